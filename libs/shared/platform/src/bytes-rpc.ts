import { BytesRpcDef } from '@kiln/contracts';
import { KilnError } from '@kiln/domain';
import { ErrorCode, headers as natsHeaders, Msg, NatsConnection, NatsError, Subscription } from 'nats';
import { JsonLogger } from './logger';
import { INTERNAL } from './rpc';
import { parseInput } from './validation';

/** A plain nats.js connection (PlatformModule, with `rpcClient`), for calling bytes RPCs. */
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');

/** The answer's HTTP status travels in this header; the body is the answer's JSON, as the gateway sends it on. */
export const STATUS_HEADER = 'Kiln-Status';

export interface BytesAnswer {
  status: number;
  /** UTF-8 JSON: the response, or a KilnErrorBody when status is not 2xx. */
  body: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function reply(msg: Msg, status: number, json: string): void {
  const h = natsHeaders();
  h.set(STATUS_HEADER, String(status));
  msg.respond(encoder.encode(json), { headers: h });
}

/**
 * Answers `def` on core NATS in a queue group (replicas share the load). The handler returns the answer already
 * serialized; a KilnError becomes its status and body, anything else a logged 500.
 */
export function serveBytesRpc<Req, Res>(nc: NatsConnection, def: BytesRpcDef<Req, Res>, queue: string, logger: JsonLogger, handler: (req: Req) => Promise<string>): Subscription {
  return nc.subscribe(def.subject, {
    queue,
    callback: (err, msg) => {
      if (err) return logger.error({ msg: 'subscription failed', subject: def.subject, err: err.message }, 'BytesRpc');
      let json: unknown;
      try {
        json = JSON.parse(decoder.decode(msg.data));
      } catch {
        return reply(msg, 400, JSON.stringify({ status: 400, code: 'BadRequest', message: `${def.subject} takes a JSON request` }));
      }
      let req: Req;
      try {
        req = parseInput(def.request, json, '', '(request)');
      } catch (e) {
        return reply(msg, 400, JSON.stringify((e as KilnError).toBody()));
      }
      handler(req).then(
        (json) => reply(msg, 200, json),
        (e: unknown) => {
          if (e instanceof KilnError) return reply(msg, e.status, JSON.stringify(e.toBody()));
          logger.error(e instanceof Error ? e : { msg: String(e) }, 'BytesRpc');
          reply(msg, 500, JSON.stringify(INTERNAL));
        },
      );
    },
  });
}

/** Calls `def`; no answer (no service running, or none in time) is a 503 KilnError, as with `callRpc`. */
export async function callBytesRpc<Req, Res>(nc: NatsConnection, def: BytesRpcDef<Req, Res>, request: Req, timeoutMs = 10_000): Promise<BytesAnswer> {
  let msg: Msg;
  try {
    msg = await nc.request(def.subject, encoder.encode(JSON.stringify(request)), { timeout: timeoutMs });
  } catch (err) {
    const code = (err as NatsError).code;
    if (code === ErrorCode.NoResponders) throw new KilnError(503, 'ServiceUnavailable', `no service answers ${def.subject} right now`);
    if (code === ErrorCode.Timeout) throw new KilnError(503, 'ServiceUnavailable', `no answer to ${def.subject} within ${timeoutMs} ms; is the owning service running?`);
    throw err;
  }
  const status = Number(msg.headers?.get(STATUS_HEADER));
  if (!Number.isInteger(status) || status < 100) throw new Error(`${def.subject} answered without a ${STATUS_HEADER} header`);
  return { status, body: msg.data };
}
