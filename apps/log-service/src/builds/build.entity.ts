import type { BuildStatus, RefType } from '@kiln/domain';
import type { BuildFailure, BuildTriggerInfo, BuildInstruction, PlatformImage, StepName, StepStatus } from '@kiln/contracts';
import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';

@Entity({ schema: 'logs', name: 'builds' })
@Check('builds_status_check', `status IN ('queued','running','succeeded','failed','cancelled')`)
// Lists page newest first (created_at DESC, id DESC), by rule, by image repository or all.
@Index('builds_rule_created', ['ruleId', 'createdAt', 'id'])
@Index('builds_created', ['createdAt', 'id'])
@Index('builds_image_created', ['imageRepository', 'createdAt', 'id'])
// On (trigger->>'rebuildOf', created_at) where the build is a rebuild: an expression index, made by its migration.
@Index('builds_rebuild_of', { synchronize: false })
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
  @PrimaryColumn('uuid', { name: 'build_id' })
  @ForeignKey(() => BuildEntity, { name: 'build_steps_build_id_fkey', onDelete: 'CASCADE' })
  buildId!: string;
  @PrimaryColumn('text') name!: StepName;
  @PrimaryColumn('int') attempt!: number;
  @Column('text') status!: StepStatus;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
  @Column('text', { nullable: true }) message!: string | null;
}
