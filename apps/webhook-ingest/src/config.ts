import { baseConfigSchema, port } from '@kiln/platform';
import { z } from 'zod';

export const webhookConfigSchema = baseConfigSchema.extend({
  KILN_WEBHOOK_PORT: port(8081),
  /** Largest accepted delivery; larger ones get 413. */
  KILN_WEBHOOK_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(25 * 1024 * 1024),
});
export type WebhookConfig = z.infer<typeof webhookConfigSchema>;
