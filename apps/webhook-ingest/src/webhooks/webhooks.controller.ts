import { Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { INTERNAL, JsonLogger, KILN_CONFIG } from '@kiln/platform';
import type { WebhookConfig } from '../config';
import { WebhooksService } from './webhooks.service';

/**
 * POST /webhooks/{sourceId}. No body parser runs ahead of this (main.ts): a delivery is read here as raw bytes,
 * whatever its content type, because its signature is verified over exactly what was received; the host's adapter
 * parses it after.
 */
@Controller('webhooks')
export class WebhooksController {
  private readonly maxBytes: number;

  constructor(
    private readonly webhooks: WebhooksService,
    private readonly logger: JsonLogger,
    @Inject(KILN_CONFIG) config: WebhookConfig,
  ) {
    this.maxBytes = config.KILN_WEBHOOK_MAX_BYTES;
  }

  @Post(':sourceId')
  async deliver(@Param('sourceId') sourceId: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (Number(req.headers['content-length'] ?? 0) > this.maxBytes) return this.tooLarge(req.raw, reply, 0);
    let rawBody: Buffer;
    try {
      rawBody = await this.readBody(req.raw);
    } catch (err) {
      if (err instanceof TooLarge) this.tooLarge(req.raw, reply, err.read);
      else req.raw.destroy();
      return;
    }
    try {
      const headers = req.headers as Record<string, string | undefined>;
      const result = await this.webhooks.receive({ sourceId, headers, rawBody, contentType: headers['content-type'] ?? '' });
      await reply.code(result.status).send(result.body);
    } catch (err) {
      this.logger.error({ msg: 'webhook delivery failed', sourceId, err: err instanceof Error ? err.message : String(err) }, 'Webhooks');
      await reply.code(500).send(INTERNAL);
    }
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.maxBytes) return reject(new TooLarge(size));
        chunks.push(c);
      });
      req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  /**
   * 413 at once, then the rest of the body is read and dropped, so the sender gets to read the answer instead of a
   * reset connection mid-upload (closing on it made clients fail with EPIPE). A sender that keeps going far past the
   * limit is cut off.
   */
  private tooLarge(req: IncomingMessage, reply: FastifyReply, alreadyRead: number): void {
    void reply.code(413).send({ status: 413, code: 'PayloadTooLarge', message: `deliveries above ${this.maxBytes} bytes are refused` });
    let dropped = alreadyRead;
    req.removeAllListeners('data');
    req.on('data', (c: Buffer) => {
      dropped += c.length;
      if (dropped > 4 * this.maxBytes) req.destroy();
    });
    req.resume();
  }
}

class TooLarge extends Error {
  constructor(readonly read: number) {
    super('delivery too large');
  }
}
