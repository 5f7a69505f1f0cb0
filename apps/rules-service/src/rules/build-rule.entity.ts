import type { NormalizedTagRule, Trigger } from '@kiln/domain';
import type { BuildArgView, RetentionPolicy } from '@kiln/contracts';
import { Check, Column, CreateDateColumn, Entity, ForeignKey, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { CodeSourceEntity } from '../sources/code-source.entity';
import { RegistryEntity } from '../registries/registry.entity';

@Entity({ schema: 'rules', name: 'build_rules' })
@Index('build_rules_source_repo', ['sourceId', 'repositoryKey'])
@Index('build_rules_image', ['namespace', 'imageRepository', 'createdAt'])
@Check('build_rules_timeout_seconds_check', 'timeout_seconds BETWEEN 10 AND 86400')
export class BuildRuleEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('text') namespace!: string;
  @Column('text', { name: 'image_repository' }) imageRepository!: string;
  @Column('uuid', { name: 'source_id' }) sourceId!: string;
  /** Loaded with the rule, so every rule shows its source's authorization state. */
  @ManyToOne(() => CodeSourceEntity, { eager: true, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'source_id', foreignKeyConstraintName: 'build_rules_source_id_fkey' })
  source?: CodeSourceEntity;
  /** Repository on the host as the user gave it (`owner/name`, or a clone URL for `git`). */
  @Column('text') repository!: string;
  /** Lower-cased `owner/name` used to match webhook deliveries. */
  @Column('text', { name: 'repository_key' }) repositoryKey!: string;
  @Column('jsonb') trigger!: Trigger;
  @Column('text', { name: 'dockerfile_path' }) dockerfilePath!: string;
  @Column('text', { name: 'context_dir' }) contextDir!: string;
  @Column('jsonb', { name: 'tag_rule' }) tagRule!: NormalizedTagRule;
  @Column('boolean', { name: 'auto_trigger' }) autoTrigger!: boolean;
  @Column('int', { name: 'timeout_seconds', default: 3600 }) timeoutSeconds!: number;
  /** Names, plain values and which are secret; secret values live sealed in `buildSecretsSealed`. */
  @Column('jsonb', { name: 'build_args', default: () => "'[]'" }) buildArgs!: BuildArgView[];
  /** AES-GCM sealed JSON object name → value of the secret build arguments. */
  @Column('text', { name: 'build_secrets_sealed', nullable: true }) buildSecretsSealed!: string | null;
  @Column('boolean', { name: 'cancel_superseded', default: false }) cancelSuperseded!: boolean;
  @Column('boolean', { default: false }) submodules!: boolean;
  @Column('jsonb', { nullable: true }) retention!: RetentionPolicy | null;
  @Column('text', { nullable: true }) target!: string | null;
  @Column('jsonb', { default: () => "'[]'" }) platforms!: string[];
  /** Push to this registry instead of Kiln's own. */
  @Column('uuid', { name: 'push_registry_id', nullable: true })
  @ForeignKey(() => RegistryEntity, { name: 'build_rules_push_registry_id_fkey', onDelete: 'RESTRICT' })
  pushRegistryId!: string | null;
  /** Registries whose credentials builds may use to pull private base images. */
  @Column('jsonb', { name: 'pull_registry_ids', default: () => "'[]'" }) pullRegistryIds!: string[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
