// Health
export type HealthState = 'up' | 'down';
export interface HealthReport {
  service: string;
  status: HealthState;
  checks: Record<string, { status: HealthState; detail?: string }>;
}
