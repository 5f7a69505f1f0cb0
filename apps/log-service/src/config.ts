import { baseConfigSchema, port } from '@kiln/platform';
import { z } from 'zod';

export const logConfigSchema = baseConfigSchema.extend({
  KILN_LOGS_PORT: port(8083),
  /** Largest batch of log chunks written in one statement. */
  KILN_LOG_BATCH: z.coerce.number().int().min(1).max(5000).default(500),
});
export type LogConfig = z.infer<typeof logConfigSchema>;
