import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { deterministicId, matchTrigger, pushWorkflowId } from '@kiln/domain';
import { deliveryRecordedV1, DeliveryRecordedV1, pushReceivedV1, PushReceivedV1, sourceStatusV1 } from '@kiln/contracts';
import { EventBus, JsonLogger } from '@kiln/platform';
import { BuildStarter } from '../builds/build-starter.service';
import { RulesService } from '../rules/rules.service';
import { SourcesService } from '../sources/sources.service';
import { DecisionKind, EventDecisionEntity, NO_RULE_ID, PushEventEntity } from './push-event.entity';
import { BuildRuleEntity } from '../rules/build-rule.entity';
import { repositoryKey } from '../rules/rule-input';

const repoKeyOf = (e: { sourceId: string; repoFullName: string }) => `${e.sourceId}|${repositoryKey(e.repoFullName)}`;

export const PUSH_CONSUMER = 'rules-service';

/**
 * Consumes `push.received.v1` durably. Every matching build is started in Temporal before the message is
 * acked; decisions are recorded per (event, rule), so a redelivered event changes nothing.
 */
@Injectable()
export class PushHandler implements OnApplicationBootstrap {
  constructor(
    private readonly bus: EventBus,
    private readonly rules: RulesService,
    private readonly sources: SourcesService,
    private readonly starter: BuildStarter,
    @InjectDataSource() private readonly db: DataSource,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // In batches: under a burst of pushes the ledger and the rule look-ups take one statement per batch.
    await this.bus.consumeBatches(pushReceivedV1, PUSH_CONSUMER, (batch) => this.handleBatch(batch.map((b) => b.payload)), { ackWaitMs: 60_000, maxBatch: 200 });
    await this.bus.consume(deliveryRecordedV1, 'rules-service-ledger', (record) => this.recordDelivery(record));
    await this.bus.consume(sourceStatusV1, 'rules-service-source-status', (s) => this.sources.markUnauthorized(s.sourceId, s.reason, new Date(s.at)));
  }

  async recordDelivery(r: DeliveryRecordedV1): Promise<void> {
    await this.db
      .createQueryBuilder()
      .insert()
      .into(PushEventEntity)
      .values({
        eventId: r.recordId,
        sourceId: r.sourceId,
        provider: r.provider,
        deliveryId: r.deliveryId,
        outcome: r.outcome,
        status: r.status,
        reason: r.reason,
        eventType: r.eventType,
        repoFullName: null,
        ref: null,
        event: null,
        receivedAt: new Date(r.receivedAt),
      })
      .orIgnore()
      .execute();
  }

  /** Evaluate a stored push again (a rule was fixed): decisions are replaced; builds already started are kept. */
  async reevaluate(event: PushReceivedV1): Promise<void> {
    await this.db.query('DELETE FROM rules.event_decisions WHERE event_id = $1', [event.eventId]);
    await this.handle(event);
  }

  async handle(event: PushReceivedV1): Promise<void> {
    await this.handleBatch([event]);
  }

  /**
   * A batch of pushes (whatever arrived together): their ledger rows in one statement, the rules of all their
   * repositories in one query, the "no rules" decisions in one statement; each push with rules is then decided on
   * its own, in order. Everything is keyed, so a redelivered batch changes nothing.
   */
  async handleBatch(events: PushReceivedV1[]): Promise<void> {
    const pushes = events.filter((e) => e.kind === 'push');
    if (pushes.length === 0) return;
    await this.db.query(
      `INSERT INTO rules.push_events (event_id, source_id, provider, delivery_id, outcome, status, event_type, repo_full_name, ref, event, received_at)
       SELECT e, s, p, d, 'accepted', 202, 'push', r, f, j, t
       FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[]) AS u(e, s, p, d, r, f, j, t)
       ON CONFLICT DO NOTHING`,
      [
        pushes.map((e) => e.eventId),
        pushes.map((e) => e.sourceId),
        pushes.map((e) => e.provider),
        pushes.map((e) => e.deliveryId),
        pushes.map((e) => e.repoFullName),
        pushes.map((e) => e.ref),
        pushes.map((e) => JSON.stringify(e)),
        pushes.map((e) => e.receivedAt),
      ],
    );
    const rulesByRepo = await this.rules.forRepositories(pushes.map((e) => ({ sourceId: e.sourceId, repoFullName: e.repoFullName })));
    const withoutRules = pushes.filter((e) => (rulesByRepo.get(repoKeyOf(e)) ?? []).length === 0);
    if (withoutRules.length > 0)
      await this.db.query(
        `INSERT INTO rules.event_decisions (event_id, rule_id, decision, reason)
         SELECT e, $2::uuid, 'no-rules', r FROM unnest($1::text[], $3::text[]) AS u(e, r)
         ON CONFLICT DO NOTHING`,
        [withoutRules.map((e) => e.eventId), NO_RULE_ID, withoutRules.map((e) => `no build rule uses ${e.repoFullName} on this source`)],
      );
    for (const event of pushes) {
      const rules = rulesByRepo.get(repoKeyOf(event)) ?? [];
      if (rules.length > 0) await this.decide(event, rules);
    }
  }

  private async decide(event: PushReceivedV1, rules: BuildRuleEntity[]): Promise<void> {
    const source = await this.sources.entity(event.sourceId);
    for (const rule of rules) {
      if (event.deleted) {
        await this.record(event.eventId, rule.id, 'ref-deleted', `${event.ref} was deleted; deletions never build`);
        continue;
      }
      const match = matchTrigger(rule.trigger, { ref: event.ref, deleted: event.deleted });
      if (!match.matched) {
        await this.record(event.eventId, rule.id, 'no-match', match.reason ?? null);
        continue;
      }
      if (!rule.autoTrigger) {
        await this.record(event.eventId, rule.id, 'auto-trigger-off', 'auto-trigger is off for this rule; use build now');
        continue;
      }
      if (source.status === 'unauthorized') {
        await this.record(event.eventId, rule.id, 'source-unauthorized', `not built: the source is unauthorized (${source.statusReason ?? 'access refused'}); re-authorize it and push again`);
        continue;
      }
      const commit = event.commitSha ?? event.after;
      if (!commit) {
        await this.record(event.eventId, rule.id, 'no-match', 'the delivery names no commit to build');
        continue;
      }
      const started = await this.starter.start({
        rule,
        source,
        buildId: deterministicId(`${rule.id}:${event.eventId}`),
        workflowId: pushWorkflowId(rule.id, event.eventId),
        ref: event.ref,
        commit,
        trigger: { kind: 'push', eventId: event.eventId, deliveryId: event.deliveryId, provider: event.provider },
        cloneUrl: event.cloneUrl,
      });
      await this.record(event.eventId, rule.id, 'build-started', null, started.buildId, started.workflowId);
    }
    this.logger.log({ msg: 'push evaluated', eventId: event.eventId, rules: rules.length }, 'PushHandler');
  }

  private async record(eventId: string, ruleId: string, decision: DecisionKind, reason: string | null, buildId: string | null = null, workflowId: string | null = null): Promise<void> {
    await this.db.createQueryBuilder().insert().into(EventDecisionEntity).values({ eventId, ruleId, decision, reason, buildId, workflowId }).orIgnore().execute();
  }
}
