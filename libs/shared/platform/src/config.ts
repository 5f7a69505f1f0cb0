import { z } from 'zod';
import { existsSync, readFileSync } from 'node:fs';

/** Settings every service shares. Each app extends this with its own and validates once, at start-up. */
export const baseConfigSchema = z.object({
  KILN_NATS_URL: z.string().default('nats://127.0.0.1:4223'),
  /** This service's own NATS user; its permissions name the subjects it may use (scripts/kiln writes them). */
  KILN_NATS_USER: z.string().optional(),
  KILN_NATS_PASSWORD: z.string().optional(),
  /** Kiln's own role and its password (scripts/kiln generates them): `postgres://kiln:…@127.0.0.1:5432/kiln`. */
  KILN_DATABASE_URL: z.string().default('postgres://kiln@127.0.0.1:5432/kiln'),
  KILN_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  KILN_HOST: z.string().default('127.0.0.1'),
  /**
   * Internal hosts Kiln may clone from or call although they resolve to loopback, private or link-local addresses:
   * comma-separated names, addresses and CIDR ranges. Empty: none.
   */
  KILN_GIT_ALLOW_HOSTS: z.string().default(''),
  /** The bearer token a Prometheus scraper sends to GET /metrics (scripts/kiln generates one); unset: /metrics is off. */
  KILN_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** How many servers of the NATS cluster store each Kiln stream (JetStream replicas): 1, or 3 (or 5) on a cluster. */
  KILN_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;

export const KILN_CONFIG = Symbol('KILN_CONFIG');

export class ConfigError extends Error {}

/** Parse the environment into a typed object, or fail with every bad setting named. */
export function loadConfig<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

/** How a service reaches NATS: the servers, and its own credentials. */
export interface NatsAuth {
  url: string;
  user?: string;
  password?: string;
}

export const natsAuth = (config: BaseConfig): NatsAuth => ({ url: config.KILN_NATS_URL, user: config.KILN_NATS_USER, password: config.KILN_NATS_PASSWORD });

/**
 * Replies come back on an inbox prefix of the user's own: NATS lets each user subscribe to its own prefix only, so
 * no service can read another's replies (a source's credentials, say).
 */
export const inboxPrefixFor = (user: string | undefined): string => (user ? `_INBOX_${user.replace(/[^A-Za-z0-9_-]/g, '_')}` : '_INBOX');

/** Connection options for nats.js and for Nest's NATS transport alike. */
export function natsOptions(auth: NatsAuth, name: string): { servers: string[]; name: string; user?: string; pass?: string; inboxPrefix: string } {
  return { servers: auth.url.split(','), name, ...(auth.user ? { user: auth.user, pass: auth.password } : {}), inboxPrefix: inboxPrefixFor(auth.user) };
}

const readableFile = (what: string) =>
  z
    .string()
    .optional()
    .refine((p) => p === undefined || existsSync(p), { message: `${what}: no such file` });

/**
 * Where Temporal is, for the worker and the client alike. The dev server here has no auth; production clusters take
 * TLS (a CA for the server's certificate, a client certificate and key for mTLS, a server name) or an API key.
 */
export const temporalConfigFields = {
  KILN_TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  KILN_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** TLS to the frontend; implied by any of the settings below. */
  KILN_TEMPORAL_TLS: z.enum(['true', 'false']).default('false'),
  KILN_TEMPORAL_TLS_CA_FILE: readableFile('KILN_TEMPORAL_TLS_CA_FILE'),
  KILN_TEMPORAL_TLS_CERT_FILE: readableFile('KILN_TEMPORAL_TLS_CERT_FILE'),
  KILN_TEMPORAL_TLS_KEY_FILE: readableFile('KILN_TEMPORAL_TLS_KEY_FILE'),
  KILN_TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** Temporal Cloud's API keys (sent as a bearer token, over TLS). */
  KILN_TEMPORAL_API_KEY: z.string().optional(),
};
export type TemporalConfig = z.infer<z.ZodObject<typeof temporalConfigFields>>;

/** mTLS takes a certificate and its key together: for the `.superRefine` of each app's schema. */
export function checkTemporalTls(c: Pick<TemporalConfig, 'KILN_TEMPORAL_TLS_CERT_FILE' | 'KILN_TEMPORAL_TLS_KEY_FILE'>, ctx: z.RefinementCtx): void {
  if ((c.KILN_TEMPORAL_TLS_CERT_FILE === undefined) !== (c.KILN_TEMPORAL_TLS_KEY_FILE === undefined))
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['KILN_TEMPORAL_TLS_CERT_FILE'], message: 'mTLS needs both KILN_TEMPORAL_TLS_CERT_FILE and KILN_TEMPORAL_TLS_KEY_FILE' });
}

/** Options for `Connection.connect` (client) and `NativeConnection.connect` (worker): both take this shape. */
export function temporalConnectionOptions(c: TemporalConfig): {
  address: string;
  tls?: { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };
  apiKey?: string;
} {
  const tls =
    c.KILN_TEMPORAL_TLS === 'true' || c.KILN_TEMPORAL_TLS_CA_FILE || c.KILN_TEMPORAL_TLS_CERT_FILE || c.KILN_TEMPORAL_TLS_SERVER_NAME || c.KILN_TEMPORAL_API_KEY
      ? {
          ...(c.KILN_TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: c.KILN_TEMPORAL_TLS_SERVER_NAME } : {}),
          ...(c.KILN_TEMPORAL_TLS_CA_FILE ? { serverRootCACertificate: readFileSync(c.KILN_TEMPORAL_TLS_CA_FILE) } : {}),
          ...(c.KILN_TEMPORAL_TLS_CERT_FILE && c.KILN_TEMPORAL_TLS_KEY_FILE
            ? { clientCertPair: { crt: readFileSync(c.KILN_TEMPORAL_TLS_CERT_FILE), key: readFileSync(c.KILN_TEMPORAL_TLS_KEY_FILE) } }
            : {}),
        }
      : undefined;
  return { address: c.KILN_TEMPORAL_ADDRESS, ...(tls ? { tls } : {}), ...(c.KILN_TEMPORAL_API_KEY ? { apiKey: c.KILN_TEMPORAL_API_KEY } : {}) };
}
