import type { PushReceivedV1 } from '@kiln/contracts';
import { Check, Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';

export type DeliveryOutcome = 'accepted' | 'ping' | 'ignored' | 'refused';

/** The event ledger: every delivery, accepted or not; decisions hang off accepted pushes. */
@Entity({ schema: 'rules', name: 'push_events' })
@Check('push_events_outcome_check', `outcome IN ('accepted','ping','ignored','refused')`)
@Index('push_events_source_time', ['sourceId', 'receivedAt'])
// The ledger pages newest first: (received_at DESC, event_id DESC).
@Index('push_events_received', ['receivedAt', 'eventId'])
export class PushEventEntity {
  @PrimaryColumn('text', { name: 'event_id' }) eventId!: string;
  @Column('uuid', { name: 'source_id', nullable: true }) sourceId!: string | null;
  @Column('text', { nullable: true }) provider!: string | null;
  @Column('text', { name: 'delivery_id', nullable: true }) deliveryId!: string | null;
  @Column('text', { default: 'accepted' }) outcome!: DeliveryOutcome;
  @Column('int', { default: 202 }) status!: number;
  @Column('text', { nullable: true }) reason!: string | null;
  @Column('text', { name: 'event_type', nullable: true }) eventType!: string | null;
  @Column('text', { name: 'repo_full_name', nullable: true }) repoFullName!: string | null;
  @Column('text', { nullable: true }) ref!: string | null;
  @Column('jsonb', { nullable: true }) event!: PushReceivedV1 | null;
  /** An accepted push that no rule of its repository used when it was last evaluated (it has no decision rows). */
  @Column('boolean', { name: 'no_rules', default: false }) noRules!: boolean;
  @CreateDateColumn({ name: 'received_at', type: 'timestamptz', precision: 3 }) receivedAt!: Date;
}

export type DecisionKind = 'build-started' | 'no-match' | 'auto-trigger-off' | 'ref-deleted' | 'no-rules' | 'source-unauthorized';

/** What one event meant for one rule. The key (event, rule) makes redelivery harmless. */
@Entity({ schema: 'rules', name: 'event_decisions' })
export class EventDecisionEntity {
  @PrimaryColumn('text', { name: 'event_id' })
  @ForeignKey(() => PushEventEntity, { name: 'event_decisions_event_id_fkey', onDelete: 'CASCADE' })
  eventId!: string;
  @PrimaryColumn('uuid', { name: 'rule_id' }) ruleId!: string;
  @Column('text') decision!: DecisionKind;
  @Column('text', { nullable: true }) reason!: string | null;
  @Column('uuid', { name: 'build_id', nullable: true }) buildId!: string | null;
  @Column('text', { name: 'workflow_id', nullable: true }) workflowId!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

/** The decision an accepted push with `noRules` shows, in the ledger's words. */
export const noRulesDecision = (repoFullName: string | null) => ({ decision: 'no-rules' as const, reason: `no build rule uses ${repoFullName ?? 'this repository'} on this source` });
