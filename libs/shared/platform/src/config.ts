import { z } from 'zod';

/** Settings every service shares. Each app extends this with its own and validates once, at start-up. */
export const baseConfigSchema = z.object({
  KILN_NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  KILN_DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/kiln'),
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
