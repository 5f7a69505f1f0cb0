import type { BuildStatus, RefType } from '@kiln/domain';
import type { BuildFailure, BuildTriggerInfo, BuildInstruction, PlatformImage, StepName, StepStatus } from '@kiln/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ schema: 'logs', name: 'builds' })
export class BuildEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'rule_id' }) ruleId!: string;
  @Column('text', { name: 'rule_name' }) ruleName!: string;
  @Column('boolean', { name: 'rule_deleted', default: false }) ruleDeleted!: boolean;
  @Column('text', { name: 'image_repository' }) imageRepository!: string;
  @Column('uuid', { name: 'source_id' }) sourceId!: string;
  @Column('jsonb') trigger!: BuildTriggerInfo;
  @Column('text') status!: BuildStatus;
  @Column('text') ref!: string;
  @Column('text', { name: 'ref_type' }) refType!: RefType;
  @Column('text', { name: 'ref_name' }) refName!: string;
  @Column('text') commit!: string;
  @Column('text', { array: true, default: () => "'{}'" }) tags!: string[];
  @Column('text', { nullable: true }) digest!: string | null;
  /** Each platform's image in the pushed index. */
  @Column('jsonb', { default: () => "'[]'" }) images!: PlatformImage[];
  @Column('jsonb', { default: () => "'[]'" }) instructions!: BuildInstruction[];
  @Column('text', { name: 'workflow_id' }) workflowId!: string;
  @Column('jsonb', { nullable: true }) failure!: BuildFailure | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
}

@Entity({ schema: 'logs', name: 'build_steps' })
export class BuildStepEntity {
  @PrimaryColumn('uuid', { name: 'build_id' }) buildId!: string;
  @PrimaryColumn('text') name!: StepName;
  @PrimaryColumn('int') attempt!: number;
  @Column('text') status!: StepStatus;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
  @Column('text', { nullable: true }) message!: string | null;
}
