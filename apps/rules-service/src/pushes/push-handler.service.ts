import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { deterministicId, matchTrigger, pushWorkflowId } from '@kiln/domain';
import { deliveryRecordedV1, DeliveryRecordedV1, pushReceivedV1, PushReceivedV1, sourceStatusV1 } from '@kiln/contracts';
import { Delivered, EventBus, JsonLogger, KILN_CONFIG, refusedByDatabase } from '@kiln/platform';
import { driverPool } from '@kiln/platform/database';
import { BuildStarter } from '../builds/build-starter.service';
import { RulesService } from '../rules/rules.service';
import { SourcesService } from '../sources/sources.service';
import { DecisionKind, EventDecisionEntity, PushEventEntity } from './push-event.entity';
import { BuildRuleEntity } from '../rules/build-rule.entity';
import { repositoryKey } from '../rules/rule-input';
import { RulesConfig } from '../config';

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
    @Inject(KILN_CONFIG) private readonly config: RulesConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // In batches: under a burst of pushes the ledger and the rule look-ups take one statement per batch.
    await this.bus.consumeBatches(pushReceivedV1, PUSH_CONSUMER, (batch) => this.handleDelivered(batch), {
      ackWaitMs: this.config.KILN_PUSH_ACK_WAIT_SECONDS * 1000,
      maxBatch: 200,
      lingerMs: 10,
      manualAck: true,
    });
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

  /**
   * A batch, and when it fails, each of its pushes on its own: one push the database cannot take must not hold back
   * the others of its batch, which would otherwise fail with it at every redelivery. A push the database refuses on
   * its own is parked (KILN_PARKED, with the database's reason), never redelivered; what fails otherwise is
   * redelivered with backoff (the pushes that went through were acked already and stay done).
   */
  async handleDelivered(batch: Delivered<PushReceivedV1>[]): Promise<void> {
    try {
      await this.handleBatch(batch.map((b) => ({ event: b.payload, json: b.json })));
      for (const b of batch) b.msg.ack();
      return;
    } catch (err) {
      // Only the database refusing some push's data is worth telling apart; while it is away, every push fails alike.
      if (!refusedByDatabase(err)) throw err;
      if (batch.length > 1) this.logger.warn({ msg: 'push batch failed; evaluating its pushes one by one', pushes: batch.length, err: String(err) }, 'PushHandler');
    }
    let failed: unknown = null;
    for (const b of batch) {
      try {
        await this.handleBatch([{ event: b.payload, json: b.json }]);
        b.msg.ack();
      } catch (err) {
        const refused = refusedByDatabase(err);
        if (refused) {
          await this.bus.park(PUSH_CONSUMER, b.msg, refused);
          continue;
        }
        failed = err;
        this.logger.error({ msg: 'push could not be evaluated; it will be redelivered', eventId: b.payload.eventId, err: String(err) }, 'PushHandler');
      }
    }
    if (failed) throw failed;
  }

  /**
   * Evaluate a stored push again (a rule was fixed): decisions are replaced, except where this event started a build:
   * that build ran (or runs) for this event and rule, and is not run again (running again is a rebuild, an explicit
   * act with a build of its own).
   */
  async reevaluate(event: PushReceivedV1): Promise<void> {
    const kept: Array<{ rule_id: string }> = await this.db.query(
      `WITH gone AS (DELETE FROM rules.event_decisions WHERE event_id = $1 AND decision <> 'build-started' RETURNING 1)
       SELECT rule_id FROM rules.event_decisions WHERE event_id = $1 AND decision = 'build-started'`,
      [event.eventId],
    );
    await this.handleBatch([{ event, json: JSON.stringify(event) }], new Set(kept.map((k) => k.rule_id)));
  }

  /**
   * A batch of pushes (whatever arrived together) in one statement: their ledger rows (flagged when no rule uses
   * their repository), and the look-up of the rules of their repositories. Each push with rules is then decided
   * on its own, in order. Everything is keyed, so a redelivered batch changes nothing; evaluating a push again
   * refreshes its flag. (Under a burst, one round trip per batch is what lets this keep up with webhook-ingest on
   * the same machine: per-push statements fell minutes behind.)
   */
  async handleBatch(received: Array<{ event: PushReceivedV1; json: string }>, decided: ReadonlySet<string> = NONE): Promise<void> {
    const batch = received.filter((r) => r.event.kind === 'push');
    if (batch.length === 0) return;
    const pushes = batch.map((r) => r.event);
    const { rows: matched } = await driverPool(this.db).query<{ event_id: string; rule_id: string }>({
      // Prepared once per connection: planning this statement cost more than running it for a small batch.
      name: 'rules-push-batch-v2',
      // The batch travels as one JSON array, joined from the messages' JSON as received (escaping it as a text[] of
      // JSON cost more than the rest of the batch; encoding the parsed events again cost a fifth of this service's CPU).
      // DISTINCT ON: an event twice in one batch must not make the upsert touch its row twice (an error).
      text: `WITH u AS (
         SELECT DISTINCT ON (x.j->>'eventId')
                x.j->>'eventId' AS e, (x.j->>'sourceId')::uuid AS s, x.j->>'provider' AS p, x.j->>'deliveryId' AS d,
                x.j->>'repoFullName' AS r, x.j->>'ref' AS f, x.j AS j, (x.j->>'receivedAt')::timestamptz AS t, k.k, x.n
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(j, n)
         JOIN unnest($2::text[]) WITH ORDINALITY AS k(k, n) ON k.n = x.n
         ORDER BY x.j->>'eventId', x.n
       ), m AS (
         SELECT u.e AS event_id, b.id AS rule_id, b.created_at FROM u JOIN rules.build_rules b ON b.source_id = u.s AND b.repository_key = u.k
       ), ev AS (
         INSERT INTO rules.push_events (event_id, source_id, provider, delivery_id, outcome, status, event_type, repo_full_name, ref, event, received_at, no_rules)
         SELECT e, s, p, d, 'accepted', 202, 'push', r, f, j, t, NOT EXISTS (SELECT 1 FROM m WHERE m.event_id = u.e) FROM u ORDER BY n
         ON CONFLICT (event_id) DO UPDATE SET no_rules = EXCLUDED.no_rules WHERE push_events.no_rules IS DISTINCT FROM EXCLUDED.no_rules
       )
       SELECT event_id, rule_id FROM m ORDER BY created_at, rule_id`,
      values: [`[${batch.map((r) => jsonbText(r.json)).join(',')}]`, pushes.map((e) => repositoryKey(e.repoFullName))],
    });
    if (matched.length === 0) return;
    const rules = new Map((await this.rules.byIds([...new Set(matched.map((m) => m.rule_id))])).map((r) => [r.id, r]));
    for (const event of pushes) {
      const own = matched.filter((m) => m.event_id === event.eventId && !decided.has(m.rule_id)).flatMap((m) => rules.get(m.rule_id) ?? []);
      if (own.length > 0) await this.decide(event, own);
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
      // A build that already ran to its end for this event and rule (its decision was lost, or the event came again) is
      // not run again: the decision says so and how to run it again.
      const reason = started.alreadyFinished ? `already built for this event (build ${started.buildId}); to run it again, rebuild it: POST /api/v1/builds/${started.buildId}/rebuild` : null;
      await this.record(event.eventId, rule.id, 'build-started', reason, started.buildId, started.workflowId);
    }
    this.logger.log({ msg: 'push evaluated', eventId: event.eventId, rules: rules.length }, 'PushHandler');
  }

  private async record(eventId: string, ruleId: string, decision: DecisionKind, reason: string | null, buildId: string | null = null, workflowId: string | null = null): Promise<void> {
    await this.db.createQueryBuilder().insert().into(EventDecisionEntity).values({ eventId, ruleId, decision, reason, buildId, workflowId }).orIgnore().execute();
  }
}

const NONE: ReadonlySet<string> = new Set();

/** `\u0000` escapes not themselves escaped (preceded by an even number of backslashes, or none). */
const NUL_ESCAPE = /(?<=(?:^|[^\\])(?:\\\\)*)\\u0000/g;

/**
 * JSON as PostgreSQL's jsonb takes it: jsonb cannot hold U+0000 and refuses the whole statement over one, so the
 * ledger's copy shows U+FFFD there instead. (The event in JetStream, which builds start from, keeps it.)
 */
export function jsonbText(json: string): string {
  return json.includes('\\u0000') ? json.replace(NUL_ESCAPE, '\\ufffd') : json;
}
