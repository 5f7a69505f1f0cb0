import type { PushReceivedV1 } from '@kiln/contracts';
import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Every normalized push rules-service consumed: the ledger the decisions hang off. */
@Entity({ schema: 'rules', name: 'push_events' })
export class PushEventEntity {
  @PrimaryColumn('text', { name: 'event_id' }) eventId!: string;
  @Column('uuid', { name: 'source_id' }) sourceId!: string;
  @Column('text', { name: 'repo_full_name' }) repoFullName!: string;
  @Column('text') ref!: string;
  @Column('jsonb') event!: PushReceivedV1;
  @CreateDateColumn({ name: 'received_at', type: 'timestamptz' }) receivedAt!: Date;
}

export type DecisionKind = 'build-started' | 'no-match' | 'auto-trigger-off' | 'ref-deleted' | 'no-rules';

/** What one event meant for one rule. The key (event, rule) makes redelivery harmless. */
@Entity({ schema: 'rules', name: 'event_decisions' })
export class EventDecisionEntity {
  @PrimaryColumn('text', { name: 'event_id' }) eventId!: string;
  /** The nil UUID stands for "no rule of this repository" so that decision is recorded too. */
  @PrimaryColumn('uuid', { name: 'rule_id' }) ruleId!: string;
  @Column('text') decision!: DecisionKind;
  @Column('text', { nullable: true }) reason!: string | null;
  @Column('uuid', { name: 'build_id', nullable: true }) buildId!: string | null;
  @Column('text', { name: 'workflow_id', nullable: true }) workflowId!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

export const NO_RULE_ID = '00000000-0000-0000-0000-000000000000';
