import { z } from 'zod';

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
