import { z } from 'zod';

// Health (every app's GET /health)
export const HEALTH_STATES = ['up', 'down'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];
export const healthReportSchema = z.object({
  service: z.string(),
  status: z.enum(HEALTH_STATES).describe('up when every dependency answers (200); down otherwise (503)'),
  checks: z.record(z.object({ status: z.enum(HEALTH_STATES), detail: z.string().optional() })).describe('Each dependency by name'),
});
export type HealthReport = z.infer<typeof healthReportSchema>;
