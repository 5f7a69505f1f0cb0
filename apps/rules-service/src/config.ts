import { baseConfigSchema, port } from '@kiln/platform';
import { z } from 'zod';

export const rulesConfigSchema = baseConfigSchema.extend({
  KILN_RULES_PORT: port(8082),
  KILN_TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  KILN_TEMPORAL_NAMESPACE: z.string().default('default'),
  KILN_TASK_QUEUE: z.string().default('kiln-builds'),
  /** Public base URL of webhook-ingest, for the webhook URL shown to users. */
  KILN_WEBHOOK_PUBLIC_URL: z.string().url().default('http://127.0.0.1:8081'),
  /** 32 bytes, base64: the key that encrypts source credentials at rest. */
  KILN_SECRET_KEY: z
    .string({ required_error: 'set KILN_SECRET_KEY to 32 random bytes in base64 (scripts/kiln up generates one)' })
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded'),
  /** Registry images are pushed to, `host:port`. */
  KILN_REGISTRY: z.string().default('127.0.0.1:5000'),
});

export type RulesConfig = z.infer<typeof rulesConfigSchema>;
