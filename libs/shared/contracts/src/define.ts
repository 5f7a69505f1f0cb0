import { z } from 'zod';
/**
 * A durable event: a JetStream subject in a stream, and the schema of its payload (the type is inferred from it).
 * `publish` takes the definition, so a mismatched payload does not compile; every consumer parses what it receives
 * through the schema, and parks what fails it. Versioned in the subject: a breaking change is a new `v2`; an added
 * optional field keeps v1 (consumers ignore fields they do not know).
 */
export interface EventDef<T> {
  readonly subject: string;
  readonly stream: StreamName;
  readonly schema: z.ZodType<T, z.ZodTypeDef, unknown>;
}

export type StreamName = 'KILN_EVENTS' | 'KILN_BUILDS' | 'KILN_LOGS' | 'KILN_PARKED';

export function defineEvent<T>(subject: string, stream: StreamName, schema: z.ZodType<T, z.ZodTypeDef, unknown>): EventDef<T> {
  return { subject, stream, schema };
}

/** Where a consumer parks a message that fails its schema: never retried, kept for an operator to read. */
export const PARKED_SUBJECT_PREFIX = 'kiln.parked.v1';
export const parkedSubject = (durable: string): string => `${PARKED_SUBJECT_PREFIX}.${durable}`;
/** Headers a parked message carries: what it was, who refused it, and why. */
export const PARKED_HEADERS = { subject: 'Kiln-Parked-Subject', stream: 'Kiln-Parked-Stream', seq: 'Kiln-Parked-Seq', consumer: 'Kiln-Parked-Consumer', reason: 'Kiln-Parked-Reason' } as const;

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
  KILN_PARKED: { subjects: ['kiln.parked.v1.>'], description: 'Messages a consumer refused (they failed their schema), one subject per consumer, with the reason' },
};
