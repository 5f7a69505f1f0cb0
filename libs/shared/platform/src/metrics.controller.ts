import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import type { IncomingHttpHeaders } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Metrics } from './metrics';

export const METRICS_TOKEN = Symbol('METRICS_TOKEN');

/**
 * GET /metrics in Prometheus' text format, for a scraper that sends `Authorization: Bearer <KILN_METRICS_TOKEN>`
 * (scripts/kiln generates it). Without a configured token the endpoint is off: nothing Kiln runs answers anonymously.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    @Inject(METRICS_TOKEN) private readonly token: string | undefined,
    private readonly http: HttpAdapterHost,
  ) {}

  @Get()
  async scrape(@Req() req: { headers: IncomingHttpHeaders }, @Res() res: unknown): Promise<void> {
    const http = this.http.httpAdapter;
    if (!this.token) {
      http.reply(res, { status: 404, code: 'NotFound', message: 'metrics are off: set KILN_METRICS_TOKEN and scrape with it as a bearer token' }, 404);
      return;
    }
    const sent = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!sameSecret(sent, this.token)) {
      http.reply(res, { status: 401, code: 'Unauthenticated', message: 'send Authorization: Bearer <KILN_METRICS_TOKEN>' }, 401);
      return;
    }
    http.setHeader(res, 'Content-Type', this.metrics.registry.contentType);
    http.reply(res, await this.metrics.text(), 200);
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
