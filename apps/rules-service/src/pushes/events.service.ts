import { newestFirstPage } from '@kiln/platform/database';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ConflictError, NotFoundError, UUID_RE, ValidationError } from '@kiln/domain';
import type { EventDecisionView, EventsQuery, EventView, Page } from '@kiln/contracts';
import { EventDecisionEntity, noRulesDecision, PushEventEntity } from './push-event.entity';
import { PushHandler } from './push-handler.service';

const OUTCOMES = ['accepted', 'ping', 'ignored', 'refused'];

/** The event ledger: every delivery, what it was normalized to, and what it meant for each rule. */
@Injectable()
export class EventsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly pushes: PushHandler,
  ) {}

  async list(q: EventsQuery): Promise<Page<EventView>> {
    const qb = this.db.getRepository(PushEventEntity).createQueryBuilder('e');
    if (q.sourceId) {
      // Compared as a uuid, so that the (source_id, received_at) index serves it (a text cast made every source
      // filter walk the whole ledger in time order).
      if (!UUID_RE.test(q.sourceId)) throw new ValidationError([{ field: 'sourceId', message: 'must be a source id (a UUID)' }]);
      qb.andWhere('e.source_id = :sourceId', { sourceId: q.sourceId });
    }
    if (q.repository) qb.andWhere('lower(e.repo_full_name) = lower(:repo)', { repo: q.repository });
    if (q.outcome) {
      if (!OUTCOMES.includes(q.outcome)) throw new ValidationError([{ field: 'outcome', message: `must be one of ${OUTCOMES.join(', ')}` }]);
      qb.andWhere('e.outcome = :outcome', { outcome: q.outcome });
    }
    return newestFirstPage(qb, { ...q, timeColumn: 'e.received_at', idColumn: 'e.event_id', time: (e) => e.receivedAt, id: (e) => e.eventId, view: (e) => view(e) });
  }

  async get(id: string): Promise<EventView> {
    const event = await this.db.getRepository(PushEventEntity).findOneBy({ eventId: String(id) });
    if (!event) throw new NotFoundError('event', id);
    const decisions = await this.db.getRepository(EventDecisionEntity).find({ where: { eventId: event.eventId }, order: { createdAt: 'ASC' } });
    return view(event, decisions);
  }

  async redeliver(id: string): Promise<EventView> {
    const stored = await this.db.getRepository(PushEventEntity).findOneBy({ eventId: String(id) });
    if (!stored) throw new NotFoundError('event', id);
    if (stored.outcome !== 'accepted' || !stored.event) throw new ConflictError(`event ${id} was ${stored.outcome}; only accepted pushes can be evaluated again`);
    await this.pushes.reevaluate(stored.event);
    return this.get(id);
  }
}

function view(e: PushEventEntity, decisions?: EventDecisionEntity[]): EventView {
  return {
    id: e.eventId,
    sourceId: e.sourceId,
    provider: e.provider,
    deliveryId: e.deliveryId,
    outcome: e.outcome,
    status: e.status,
    reason: e.reason,
    eventType: e.eventType,
    repository: e.repoFullName,
    ref: e.ref,
    receivedAt: e.receivedAt.toISOString(),
    event: e.event,
    ...(decisions ? { decisions: [...(e.noRules ? [{ ruleId: null, ...noRulesDecision(e.repoFullName), buildId: null, workflowId: null }] : []), ...decisions.map(decisionView)] } : {}),
  };
}

function decisionView(d: EventDecisionEntity): EventDecisionView {
  return { ruleId: d.ruleId, decision: d.decision, reason: d.reason, buildId: d.buildId, workflowId: d.workflowId };
}
