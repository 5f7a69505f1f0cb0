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
    await this.bus.consume(pushReceivedV1, PUSH_CONSUMER, (event) => this.handle(event), { ackWaitMs: 60_000 });
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
    if (event.kind !== 'push') return;
    await this.db
      .createQueryBuilder()
      .insert()
      .into(PushEventEntity)
      .values({
        eventId: event.eventId,
        sourceId: event.sourceId,
        provider: event.provider,
        deliveryId: event.deliveryId,
        outcome: 'accepted',
        status: 202,
        eventType: 'push',
        repoFullName: event.repoFullName,
        ref: event.ref,
        event,
        receivedAt: new Date(event.receivedAt),
      })
      .orIgnore()
      .execute();
    const rules = await this.rules.forRepository(event.sourceId, event.repoFullName);
    if (rules.length === 0) {
      await this.record(event.eventId, NO_RULE_ID, 'no-rules', `no build rule uses ${event.repoFullName} on this source`);
      return;
    }
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
