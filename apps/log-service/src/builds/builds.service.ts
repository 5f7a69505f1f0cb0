import type { Counter, Histogram } from 'prom-client';
import { Metrics, METRICS } from '@kiln/platform';
import { newestFirstPage } from '@kiln/platform/database';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { BUILD_STATUSES, BuildStatus, ConflictError, isTerminal, NotFoundError, ValidationError } from '@kiln/domain';
import type { BuildStatusV1, BuildsQuery, BuildTriggerInfo, BuildView, Page } from '@kiln/contracts';
import { BuildEntity, BuildStepEntity } from './build.entity';
import { BuildLogLineEntity } from '../logs/log-line.entity';

const TRIGGER_KINDS: string[] = ['push', 'manual', 'rebuild'] satisfies BuildTriggerInfo['kind'][];

const RANK: Record<BuildStatus, number> = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };

/** Owns build records and steps. Status reports are applied forward-only, so replays and reordering are harmless. */
@Injectable()
export class BuildsService {
  private readonly builds: Counter;
  private readonly stepDuration: Histogram;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    metrics: Metrics,
  ) {
    this.builds = metrics.counter(METRICS.builds);
    this.stepDuration = metrics.histogram(METRICS.stepDuration);
  }

  async applyStatus(report: BuildStatusV1): Promise<void> {
    // Counted once committed: a status only moves forward, so a redelivered report changes (and counts) nothing.
    const counted: { status?: string; step?: { step: string; status: string; seconds: number } } = {};
    await this.db.transaction(async (tx) => {
      delete counted.status;
      delete counted.step;
      const at = new Date(report.at);
      let build = await tx.findOne(BuildEntity, { where: { id: report.buildId }, lock: { mode: 'pessimistic_write' } });
      if (!build) {
        const d = report.descriptor;
        if (!d) throw new Error(`status for unknown build ${report.buildId} without a descriptor; retrying later`);
        await tx
          .createQueryBuilder()
          .insert()
          .into(BuildEntity)
          .values({
            id: d.buildId,
            ruleId: d.ruleId,
            ruleName: d.ruleName,
            imageRepository: d.imageRepository,
            sourceId: d.sourceId,
            trigger: d.trigger,
            status: 'queued',
            ref: d.ref,
            refType: d.refType,
            refName: d.refName,
            commit: d.commit,
            tags: [],
            workflowId: d.workflowId,
            createdAt: at,
          })
          .orIgnore()
          .execute();
        build = await tx.findOneOrFail(BuildEntity, { where: { id: report.buildId }, lock: { mode: 'pessimistic_write' } });
      }
      if (report.step) {
        const seconds = await this.applyStep(tx, report.buildId, report.step, at);
        if (seconds !== null) counted.step = { step: report.step.name, status: report.step.status, seconds };
      }
      const patch: Partial<BuildEntity> = {};
      // The worker's latest view of the Dockerfile's instructions, whole; its final one may follow the build's end.
      if (report.instructions) patch.instructions = report.instructions;
      if (report.status && !isTerminal(build.status) && RANK[report.status] >= RANK[build.status]) {
        patch.status = report.status;
        if (report.status !== build.status) counted.status = report.status;
        if (report.status === 'running' && !build.startedAt) patch.startedAt = at;
        if (isTerminal(report.status)) patch.finishedAt = at;
      }
      if (!isTerminal(build.status)) {
        if (report.tags?.length) patch.tags = report.tags;
        if (report.digest) patch.digest = report.digest;
        if (report.images?.length) patch.images = report.images;
        if (report.failure) patch.failure = report.failure;
      }
      if (Object.keys(patch).length > 0) await tx.update(BuildEntity, { id: build.id }, patch);
    });
    if (counted.status) this.builds.inc({ status: counted.status });
    if (counted.step) this.stepDuration.observe({ step: counted.step.step, status: counted.step.status }, counted.step.seconds);
  }

  /** Records a step transition; answers the attempt's duration in seconds when this report ends it. */
  private async applyStep(tx: EntityManager, buildId: string, step: NonNullable<BuildStatusV1['step']>, at: Date): Promise<number | null> {
    const running = step.status === 'running';
    const [before] = (await tx.query(`SELECT status, started_at FROM logs.build_steps WHERE build_id = $1 AND name = $2 AND attempt = $3 FOR UPDATE`, [buildId, step.name, step.attempt])) as Array<{
      status: string;
      started_at: Date | null;
    }>;
    await tx.query(
      `INSERT INTO logs.build_steps (build_id, name, attempt, status, started_at, finished_at, message)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (build_id, name, attempt) DO UPDATE SET
         status = CASE WHEN build_steps.status = 'running' THEN EXCLUDED.status ELSE build_steps.status END,
         started_at = COALESCE(build_steps.started_at, EXCLUDED.started_at),
         finished_at = COALESCE(build_steps.finished_at, EXCLUDED.finished_at),
         message = COALESCE(EXCLUDED.message, build_steps.message)`,
      [buildId, step.name, step.attempt, step.status, running ? at : null, running ? null : at, step.message ?? null],
    );
    // A later attempt means the earlier one ended without reporting (its worker died): say so.
    if (running && step.attempt > 1)
      await tx.query(
        `UPDATE logs.build_steps SET status = 'failed', finished_at = $4, message = COALESCE(message, 'the worker running this attempt stopped answering; retried')
         WHERE build_id = $1 AND name = $2 AND attempt < $3 AND status = 'running'`,
        [buildId, step.name, step.attempt, at],
      );
    return !running && before?.status === 'running' && before.started_at ? Math.max(0, (at.getTime() - new Date(before.started_at).getTime()) / 1000) : null;
  }

  async list(q: BuildsQuery): Promise<Page<BuildView>> {
    const qb = this.db.getRepository(BuildEntity).createQueryBuilder('b');
    if (q.ruleId) {
      if (!z.string().uuid().safeParse(q.ruleId).success) throw new ValidationError([{ field: 'ruleId', message: 'must be a rule id' }]);
      qb.andWhere('b.rule_id = :ruleId', { ruleId: q.ruleId });
    }
    if (q.imageRepository) qb.andWhere('b.image_repository = :img', { img: q.imageRepository });
    if (q.status) {
      if (!BUILD_STATUSES.includes(q.status)) throw new ValidationError([{ field: 'status', message: `must be one of ${BUILD_STATUSES.join(', ')}` }]);
      qb.andWhere('b.status = :status', { status: q.status });
    }
    if (q.ref) qb.andWhere('b.ref = :ref', { ref: q.ref });
    if (q.triggerKind) {
      if (!TRIGGER_KINDS.includes(q.triggerKind)) throw new ValidationError([{ field: 'triggerKind', message: `must be one of ${TRIGGER_KINDS.join(', ')}` }]);
      qb.andWhere(`b.trigger->>'kind' = :kind`, { kind: q.triggerKind });
    }
    if (q.rebuildOf !== undefined) {
      if (!z.string().uuid().safeParse(q.rebuildOf).success) throw new ValidationError([{ field: 'rebuildOf', message: 'must be a build id' }]);
      qb.andWhere(`b.trigger->>'kind' = 'rebuild' AND b.trigger->>'rebuildOf' = :of`, { of: q.rebuildOf });
    }
    if (q.namespaces && !q.namespaces.includes('*')) {
      if (q.namespaces.length === 0) qb.andWhere('false');
      else qb.andWhere(`split_part(b.image_repository, '/', 1) IN (:...namespaces)`, { namespaces: q.namespaces });
    }
    if (q.cursor && !z.string().uuid().safeParse(Buffer.from(q.cursor, 'base64url').toString().split('|')[1]).success)
      throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
    return newestFirstPage(qb, { ...q, timeColumn: 'b.created_at', idColumn: 'b.id', time: (b) => b.createdAt, id: (b) => b.id, view: (b) => toView(b) });
  }

  /** Deleting a build removes its record, steps and lines; a build still running cannot be deleted. */
  async delete(id: string): Promise<{ deleted: true }> {
    await this.db.transaction(async (tx) => {
      const build = z.string().uuid().safeParse(id).success ? await tx.findOne(BuildEntity, { where: { id }, lock: { mode: 'pessimistic_write' } }) : null;
      if (!build) throw new NotFoundError('build', id);
      if (!isTerminal(build.status)) throw new ConflictError(`build ${id} is ${build.status}; cancel it or wait for it to finish before deleting it`);
      await tx.delete(BuildLogLineEntity, { buildId: id });
      await tx.delete(BuildEntity, { id });
    });
    return { deleted: true };
  }

  async markRuleDeleted(ruleId: string): Promise<void> {
    await this.db.query('UPDATE logs.builds SET rule_deleted = true WHERE rule_id = $1 AND NOT rule_deleted', [ruleId]);
  }

  async get(id: string): Promise<BuildView> {
    const build = z.string().uuid().safeParse(id).success ? await this.db.getRepository(BuildEntity).findOneBy({ id }) : null;
    if (!build) throw new NotFoundError('build', id);
    const steps = await this.db.getRepository(BuildStepEntity).find({ where: { buildId: id }, order: { startedAt: 'ASC', attempt: 'ASC' } });
    const rebuilds: Array<{ id: string }> = await this.db.query(`SELECT id FROM logs.builds WHERE trigger->>'kind' = 'rebuild' AND trigger->>'rebuildOf' = $1 ORDER BY created_at, id`, [id]);
    return { ...toView(build, steps), rebuilds: rebuilds.map((r) => r.id) };
  }
}

function toView(b: BuildEntity, steps?: BuildStepEntity[]): BuildView {
  return {
    id: b.id,
    ruleId: b.ruleId,
    ruleName: b.ruleName,
    ruleDeleted: b.ruleDeleted,
    imageRepository: b.imageRepository,
    sourceId: b.sourceId,
    trigger: b.trigger,
    status: b.status,
    ref: b.ref,
    commit: b.commit,
    tags: b.tags,
    digest: b.digest,
    images: b.images ?? [],
    instructions: b.instructions ?? [],
    workflowId: b.workflowId,
    failure: b.failure,
    rebuildOf: b.trigger.kind === 'rebuild' ? b.trigger.rebuildOf : null,
    ...(steps
      ? {
          steps: steps.map((s) => ({
            name: s.name,
            status: s.status,
            attempt: s.attempt,
            startedAt: s.startedAt?.toISOString() ?? null,
            finishedAt: s.finishedAt?.toISOString() ?? null,
            durationMs: s.startedAt && s.finishedAt ? s.finishedAt.getTime() - s.startedAt.getTime() : null,
            message: s.message,
          })),
        }
      : {}),
    createdAt: b.createdAt.toISOString(),
    startedAt: b.startedAt?.toISOString() ?? null,
    finishedAt: b.finishedAt?.toISOString() ?? null,
  };
}
