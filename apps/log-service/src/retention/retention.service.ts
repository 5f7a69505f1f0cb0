import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { RetentionPolicy, RetentionRun, rulesRetention } from '@kiln/contracts';
import { callRpc, JsonLogger, KILN_CONFIG, NATS_CLIENT } from '@kiln/platform';
import { LogConfig } from '../config';

/** Builds deleted per statement, so a large backlog never holds long locks. */
const CHUNK = 500;
const LOCK_KEY = 0x6b696c6e; // 'kiln'

/**
 * Deletes finished builds (record, steps, lines) beyond each rule's policy, or the global one for rules without
 * their own (deleted rules included). Running and queued builds are never touched. One replica runs it at a time.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionRun> | null = null;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(NATS_CLIENT) private readonly rpc: ClientProxy,
    @Inject(KILN_CONFIG) private readonly config: LogConfig,
    private readonly logger: JsonLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.run().catch((err: unknown) => this.logger.warn({ msg: 'retention run failed; next run retries', err: String(err) }, 'Retention'));
    }, this.config.KILN_RETENTION_INTERVAL_SECONDS * 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass; concurrent calls share it. */
  run(): Promise<RetentionRun> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<RetentionRun> {
    const policies = await callRpc(this.rpc, rulesRetention, {});
    const total: RetentionRun = { buildsDeleted: 0, linesDeleted: 0 };
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [LOCK_KEY])) as Array<{ locked: boolean }>;
      if (!locked) return total; // another replica is on it
      try {
        for (const p of policies) await this.apply(runner.query.bind(runner), p.retention, { ruleId: p.ruleId }, total);
        const global: RetentionPolicy = { keepLast: this.config.KILN_RETENTION_KEEP_LAST, maxAgeDays: this.config.KILN_RETENTION_MAX_AGE_DAYS };
        if (global.keepLast !== undefined || global.maxAgeDays !== undefined) await this.apply(runner.query.bind(runner), global, { exceptRules: policies.map((p) => p.ruleId) }, total);
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
    if (total.buildsDeleted > 0) this.logger.log({ msg: 'retention applied', ...total }, 'Retention');
    return total;
  }

  private async apply(
    query: (sql: string, params?: unknown[]) => Promise<unknown>,
    policy: RetentionPolicy,
    scope: { ruleId: string } | { exceptRules: string[] },
    total: RetentionRun,
  ): Promise<void> {
    const params: unknown[] = [];
    const scopeSql = 'ruleId' in scope ? `rule_id = $${params.push(scope.ruleId)}` : `NOT (rule_id = ANY($${params.push(scope.exceptRules)}::uuid[]))`;
    const conditions: string[] = [];
    if (policy.maxAgeDays !== undefined) conditions.push(`created_at < now() - make_interval(secs => $${params.push(policy.maxAgeDays * 86_400)})`);
    if (policy.keepLast !== undefined) conditions.push(`rank > $${params.push(policy.keepLast)}`);
    if (conditions.length === 0) return;
    // Rank counts every build of the rule (running ones too: they are among the newest), newest first.
    const select = `SELECT id FROM (
        SELECT id, status, created_at, row_number() OVER (PARTITION BY rule_id ORDER BY created_at DESC, id DESC) AS rank
        FROM logs.builds WHERE ${scopeSql}) b
      WHERE status IN ('succeeded','failed','cancelled') AND (${conditions.join(' OR ')})
      LIMIT ${CHUNK}`;
    for (;;) {
      const rows = (await query(
        `WITH doomed AS (${select}),
              lines AS (DELETE FROM logs.build_log_lines l USING doomed d WHERE l.build_id = d.id RETURNING 1),
              builds AS (DELETE FROM logs.builds b USING doomed d WHERE b.id = d.id RETURNING 1)
         SELECT (SELECT count(*) FROM builds)::int AS builds, (SELECT count(*) FROM lines)::int AS lines`,
        params,
      )) as Array<{ builds: number; lines: number }>;
      total.buildsDeleted += rows[0].builds;
      total.linesDeleted += rows[0].lines;
      if (rows[0].builds < CHUNK) return;
    }
  }
}
