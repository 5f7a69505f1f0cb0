import { baseConfigSchema, port } from '@kiln/platform';
import { z } from 'zod';

export const logConfigSchema = baseConfigSchema.extend({
  KILN_LOGS_PORT: port(8083),
  /** Largest batch of log chunks written in one statement. */
  KILN_LOG_BATCH: z.coerce.number().int().min(1).max(5000).default(500),
  /** Global retention for builds of rules without their own policy: keep the last N per rule and/or D days. */
  KILN_RETENTION_KEEP_LAST: z.coerce.number().int().min(1).optional(),
  KILN_RETENTION_MAX_AGE_DAYS: z.coerce.number().min(0.001).optional(),
  /** How often the retention job runs (one replica at a time). */
  KILN_RETENTION_INTERVAL_SECONDS: z.coerce.number().min(1).default(3600),
});
export type LogConfig = z.infer<typeof logConfigSchema>;
