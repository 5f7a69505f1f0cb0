import type { StepName } from '@kiln/contracts';
import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * One line of a build's log. `LogsService` writes lines in batches (one multi-row statement) and reads them in pages
 * by hand-written SQL (the hot path); they are deleted only with their build. The entity declares the table as its
 * migrations made it (checked by test/e2e/database-schema.e2e-spec.ts).
 */
@Entity({ schema: 'logs', name: 'build_log_lines' })
@Unique('build_log_lines_build_id_step_attempt_seq_key', ['buildId', 'step', 'attempt', 'seq'])
@Index('build_log_lines_build_id', ['buildId', 'id'])
export class BuildLogLineEntity {
  /** Arrival order: readers page and follow by it. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Column('uuid', { name: 'build_id' }) buildId!: string;
  @Column('text') step!: StepName;
  @Column('int') attempt!: number;
  /** The line's number in its step attempt, given by the worker: a redelivered chunk repeats it. */
  @Column('int') seq!: number;
  @Column('text') stream!: 'stdout' | 'stderr' | 'system';
  @Column('timestamptz') time!: Date;
  @Column('text') text!: string;
}
