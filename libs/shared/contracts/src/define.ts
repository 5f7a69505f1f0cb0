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

/**
 * A request/reply call over core NATS (NestJS `@MessagePattern`): a versioned pattern, the schema every handler parses
 * its request through (the request type is inferred from it), and the answer's schema (its type is inferred from it;
 * the API documents answers it passes on with it).
 */
export interface RpcDef<Req, Res> {
  readonly pattern: string;
  readonly request: z.ZodType<Req, z.ZodTypeDef, unknown>;
  readonly response: z.ZodType<Res, z.ZodTypeDef, unknown>;
}

/** Every RPC name ends in its version, so a changed contract gets a new name beside the old one. */
function requireVersion(what: string, name: string): void {
  if (!/\.v\d+$/.test(name)) throw new Error(`${what} ${name} carries no version (….v1, say)`);
}

/** `defineRpc('rules.rules.get.v1', byId).returns(buildRuleViewSchema)` */
export function defineRpc<S extends z.ZodTypeAny>(pattern: string, request: S): { returns<R extends z.ZodTypeAny>(response: R): RpcDef<z.output<S>, z.output<R>> } {
  requireVersion('RPC pattern', pattern);
  return { returns: <R extends z.ZodTypeAny>(response: R) => ({ pattern, request, response }) as RpcDef<z.output<S>, z.output<R>> };
}

/** A page of a list, and the cursor of the next one (null on the last). */
export const pageOf = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable().describe('The next page (null on the last)') });
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
/** The answer to a delete. */
export const deletedSchema = z.object({ deleted: z.literal(true) });
/** An ISO-8601 instant with its offset, as every answer writes times. */
export const instant = z.string().datetime({ offset: true });

/** Requests that name one thing. Any string: a service answers 404 for an id it does not know. */
export const byId = z.object({ id: z.string() });
/** Requests without arguments (NestJS sends an empty object, or nothing). */
export const noArgs = z
  .object({})
  .passthrough()
  .optional()
  .transform(() => ({}) as Record<string, never>);
/** Cursor paging. */
export const pageQuery = { cursor: z.string().optional(), limit: z.number().int().optional() };
/**
 * A request body passed on from the API as it came: checked here to be a JSON object; its fields are checked by the
 * owning service, which answers each wrong field by name.
 */
export const body = <T>() => z.custom<T>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { message: 'must be a JSON object' });

/**
 * A request/reply call whose answer travels as its final JSON bytes, with the status in a header and no envelope:
 * the gateway writes them to the HTTP response without parsing and serializing them again. For hot read paths. The
 * request is checked against its schema where it enters, as with every RPC.
 */
export interface BytesRpcDef<Req, Res> {
  readonly subject: string;
  readonly request: z.ZodType<Req, z.ZodTypeDef, unknown>;
  readonly __res?: Res;
}

/** `defineBytesRpc('logs.lines.page.v1', logsQuerySchema).returns<Page<LogLineView>>()` */
export function defineBytesRpc<S extends z.ZodTypeAny>(subject: string, request: S): { returns<Res>(): BytesRpcDef<z.output<S>, Res> } {
  requireVersion('RPC subject', subject);
  return { returns: <Res>() => ({ subject, request }) as BytesRpcDef<z.output<S>, Res> };
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
