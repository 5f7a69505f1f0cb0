import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { answerJson as answer, INTERNAL, JsonLogger, serveAheadOfFramework } from '@kiln/platform';
import type { WebhooksService } from './webhooks.service';

const PATH = /^\/webhooks\/([^/?#]+)\/?(?:\?.*)?$/;

/**
 * POST /webhooks/{sourceId} straight on Node's HTTP server, ahead of Express and Nest: a delivery needs no routing
 * tables, body parsers or interceptors, only its raw bytes, and this is the hottest path in Kiln (a third of
 * webhook-ingest's CPU went to the framework layers). Every other request goes to the Nest app as before.
 */
export function serveDeliveriesFirst(server: Server, webhooks: WebhooksService, maxBytes: number, logger: JsonLogger): void {
  serveAheadOfFramework(server, (req) => {
    const m = req.method === 'POST' ? PATH.exec(req.url ?? '') : null;
    return m ? (req, res) => void deliver(req, res, m[1], webhooks, maxBytes, logger) : null;
  });
}

/**
 * 413 at once, then the rest of the body is read and dropped, so the sender gets to read the answer instead of a
 * reset connection mid-upload (closing on it made clients fail with EPIPE). A sender that keeps going far past the
 * limit is cut off.
 */
function tooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number, alreadyRead: number): void {
  answer(res, 413, { status: 413, code: 'PayloadTooLarge', message: `deliveries above ${maxBytes} bytes are refused` });
  let dropped = alreadyRead;
  req.removeAllListeners('data');
  req.on('data', (c: Buffer) => {
    dropped += c.length;
    if (dropped > 4 * maxBytes) req.destroy();
  });
  req.resume();
}

async function deliver(req: IncomingMessage, res: ServerResponse, rawId: string, webhooks: WebhooksService, maxBytes: number, logger: JsonLogger): Promise<void> {
  let sourceId: string;
  try {
    sourceId = decodeURIComponent(rawId);
  } catch {
    return answer(res, 404, { status: 404, code: 'NotFound', message: 'no such source' });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) return tooLarge(req, res, maxBytes, 0);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) return reject(Object.assign(new Error('too large'), { status: 413 }));
        chunks.push(c);
      });
      req.on('end', resolve);
      req.on('error', reject);
    });
  } catch (err) {
    if ((err as { status?: number }).status === 413) tooLarge(req, res, maxBytes, size);
    else req.destroy();
    return;
  }
  try {
    const headers = req.headers as Record<string, string | undefined>;
    const result = await webhooks.receive({ sourceId, headers, rawBody: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), contentType: headers['content-type'] ?? '' });
    answer(res, result.status, result.body);
  } catch (err) {
    logger.error({ msg: 'webhook delivery failed', sourceId, err: err instanceof Error ? err.message : String(err) }, 'Webhooks');
    answer(res, 500, INTERNAL);
  }
}
