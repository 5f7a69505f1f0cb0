import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Takes a request the route claimed; `next()` hands it to the framework instead, as long as nothing was answered. */
export type FastHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * Serves the requests `route` claims straight on Node's HTTP server, ahead of Express and Nest (no routing tables,
 * middleware, guards or interceptors on a hot path); every other request goes to the Nest app as before. Call it
 * once the app is created and before it listens.
 */
export function serveAheadOfFramework(server: Server, route: (req: IncomingMessage) => FastHandler | null): void {
  const framework = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  const toFramework = (req: IncomingMessage, res: ServerResponse) => {
    for (const f of framework) f.call(server, req, res);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const handler = route(req);
    if (!handler) return toFramework(req, res);
    handler(req, res, () => toFramework(req, res));
  });
}

/** A JSON answer with its length set (keep-alive clients need no chunked framing for it). */
export function answerJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
