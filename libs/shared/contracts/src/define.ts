/**
 * A durable event: a JetStream subject in a stream, typed by its payload. `publish` and `consume` take the
 * definition, so a mismatched payload does not compile. Versioned in the subject: a breaking change is a new `v2`.
 */
export interface EventDef<T> {
  readonly subject: string;
  readonly stream: StreamName;
  /** Phantom field carrying the payload type; never set. */
  readonly __payload?: T;
}

export type StreamName = 'KILN_EVENTS' | 'KILN_BUILDS' | 'KILN_LOGS';

export function defineEvent<T>(subject: string, stream: StreamName): EventDef<T> {
  return { subject, stream };
}

/** A request/reply call over core NATS (NestJS `@MessagePattern`), typed by request and response. */
export interface RpcDef<Req, Res> {
  readonly pattern: string;
  readonly __req?: Req;
  readonly __res?: Res;
}

export function defineRpc<Req, Res>(pattern: string): RpcDef<Req, Res> {
  return { pattern };
}

/**
 * A request/reply call whose answer travels as its final JSON bytes, with the status in a header and no envelope:
 * the gateway writes them to the HTTP response without parsing and serializing them again. For hot read paths.
 */
export interface BytesRpcDef<Req, Res> {
  readonly subject: string;
  readonly __req?: Req;
  readonly __res?: Res;
}

export function defineBytesRpc<Req, Res>(subject: string): BytesRpcDef<Req, Res> {
  return { subject };
}

export type PayloadOf<D> = D extends EventDef<infer T> ? T : never;
export type RequestOf<D> = D extends RpcDef<infer Req, unknown> ? Req : never;
export type ResponseOf<D> = D extends RpcDef<unknown, infer Res> ? Res : never;

/** Streams and the subjects each one stores. Created idempotently by every service at start-up. */
export const STREAMS: Record<StreamName, { subjects: string[]; description: string }> = {
  KILN_EVENTS: { subjects: ['push.received.v1', 'delivery.recorded.v1'], description: 'Normalized webhook deliveries, deduplicated by provider:delivery id' },
  KILN_BUILDS: { subjects: ['build.status.v1', 'rule.deleted.v1', 'source.status.v1'], description: 'Build and step status transitions, rule deletions, source authorization' },
  KILN_LOGS: { subjects: ['build.log.v1.>'], description: 'Build log lines, one subject per build' },
};
