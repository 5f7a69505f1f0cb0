import { Controller, Get, Inject, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { healthReportSchema, type HealthReport } from '@kiln/contracts';
import { ApiResponse } from '@nestjs/swagger';
import { Endpoint, openApiSchema } from './openapi';

export interface HealthCheck {
  name: string;
  /** Resolves when the dependency answers; rejects with the reason otherwise. */
  check: () => Promise<void>;
}

export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
export const SERVICE_NAME = Symbol('SERVICE_NAME');

const CHECK_TIMEOUT_MS = 2000;

/** Liveness plus each dependency's state; 503 when any dependency is down. */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(SERVICE_NAME) private readonly service: string,
    @Inject(HEALTH_CHECKS) private readonly checks: HealthCheck[],
    private readonly http: HttpAdapterHost,
  ) {}

  @Get()
  @Endpoint({ summary: "The app's liveness and each dependency's state", response: healthReportSchema, public: true })
  @ApiResponse({ status: 503, description: 'A dependency is down (its check says why)', schema: openApiSchema(healthReportSchema) })
  async health(@Res() res: unknown): Promise<void> {
    const report = await runHealthChecks(this.service, this.checks);
    this.http.httpAdapter.reply(res, report, report.status === 'up' ? 200 : 503);
  }
}

export async function runHealthChecks(service: string, checks: HealthCheck[]): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        await Promise.race([c.check(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref())]);
        return [c.name, { status: 'up' as const }] as const;
      } catch (err) {
        return [c.name, { status: 'down' as const, detail: err instanceof Error ? err.message : String(err) }] as const;
      }
    }),
  );
  const checksOut = Object.fromEntries(results);
  return { service, status: results.every(([, r]) => r.status === 'up') ? 'up' : 'down', checks: checksOut };
}
