import { baseConfigSchema, checkTemporalTls, port, temporalConfigFields } from '@kiln/platform';
import { z } from 'zod';

export const rulesConfigSchema = baseConfigSchema
  .extend({
    KILN_RULES_PORT: port(8082),
    ...temporalConfigFields,
    KILN_TASK_QUEUE: z.string().default('kiln-builds'),
    /**
     * How long JetStream waits for this service to acknowledge a push before it delivers it again: after a crash or
     * a stop, pushes it had been sent but had not taken come again after this long.
     */
    KILN_PUSH_ACK_WAIT_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
    /** Public base URL of webhook-ingest, for the webhook URL shown to users. */
    KILN_WEBHOOK_PUBLIC_URL: z.string().url().default('http://127.0.0.1:8081'),
    /** 32 bytes, base64: the key that encrypts source credentials at rest. */
    KILN_SECRET_KEY: z
      .string({ required_error: 'set KILN_SECRET_KEY to 32 random bytes in base64 (scripts/kiln up generates one)' })
      .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded'),
    /** Registry images are pushed to, `host:port`. */
    KILN_REGISTRY: z.string().default('10.231.0.1:5000'),
    /** Public base URL of the gateway: OAuth callbacks come back to `<this>/api/v1/oauth/callback`. */
    KILN_PUBLIC_API_URL: z.string().url().default('http://127.0.0.1:8080'),
    /** OAuth apps, per host: client id and secret from the host's app registration; URL for self-managed hosts. */
    KILN_OAUTH_GITHUB_CLIENT_ID: z.string().optional(),
    KILN_OAUTH_GITHUB_CLIENT_SECRET: z.string().optional(),
    KILN_OAUTH_GITHUB_URL: z.string().url().default('https://github.com'),
    KILN_OAUTH_GITLAB_CLIENT_ID: z.string().optional(),
    KILN_OAUTH_GITLAB_CLIENT_SECRET: z.string().optional(),
    KILN_OAUTH_GITLAB_URL: z.string().url().default('https://gitlab.com'),
    KILN_OAUTH_GITEE_CLIENT_ID: z.string().optional(),
    KILN_OAUTH_GITEE_CLIENT_SECRET: z.string().optional(),
    KILN_OAUTH_GITEE_URL: z.string().url().default('https://gitee.com'),
    KILN_OAUTH_CODING_CLIENT_ID: z.string().optional(),
    KILN_OAUTH_CODING_CLIENT_SECRET: z.string().optional(),
    /** CODING's OAuth lives on the team's own domain, e.g. https://acme.coding.net. */
    KILN_OAUTH_CODING_URL: z.string().url().optional(),
  })
  .superRefine(checkTemporalTls);

export type RulesConfig = z.infer<typeof rulesConfigSchema>;
