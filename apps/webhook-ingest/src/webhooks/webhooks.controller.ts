import { Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { RawBodyRequest } from '@nestjs/common';
import type { Request, Response } from 'express';
import { WebhooksService } from './webhooks.service';

@Controller('webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post(':sourceId')
  @HttpCode(202)
  async receive(@Param('sourceId') sourceId: string, @Req() req: RawBodyRequest<Request>, @Res() res: Response): Promise<void> {
    const rawBody = req.rawBody;
    if (!rawBody) {
      res.status(400).json({ code: 'BadDelivery', message: 'the body must be application/json or application/x-www-form-urlencoded' });
      return;
    }
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
    const answer = await this.webhooks.receive({ sourceId, headers, rawBody, contentType: headers['content-type'] ?? '' });
    res.status(answer.status).json(answer.body);
  }
}
