import type { NormalizedTagRule, Trigger } from '@kiln/domain';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ schema: 'rules', name: 'build_rules' })
@Index('build_rules_source_repo', ['sourceId', 'repositoryKey'])
export class BuildRuleEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('text') namespace!: string;
  @Column('text', { name: 'image_repository' }) imageRepository!: string;
  @Column('uuid', { name: 'source_id' }) sourceId!: string;
  /** Repository on the host as the user gave it (`owner/name`, or a clone URL for `git`). */
  @Column('text') repository!: string;
  /** Lower-cased `owner/name` used to match webhook deliveries. */
  @Column('text', { name: 'repository_key' }) repositoryKey!: string;
  @Column('jsonb') trigger!: Trigger;
  @Column('text', { name: 'dockerfile_path' }) dockerfilePath!: string;
  @Column('text', { name: 'context_dir' }) contextDir!: string;
  @Column('jsonb', { name: 'tag_rule' }) tagRule!: NormalizedTagRule;
  @Column('boolean', { name: 'auto_trigger' }) autoTrigger!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
