import { Column, CreateDateColumn, Entity, ForeignKey, PrimaryColumn } from 'typeorm';
import { CodeSourceEntity } from '../sources/code-source.entity';

/** Kiln's webhook on a repository of a source, registered through the host's API: one per (source, repository). */
@Entity({ schema: 'rules', name: 'registered_webhooks' })
export class RegisteredWebhookEntity {
  @PrimaryColumn('uuid', { name: 'source_id' })
  @ForeignKey(() => CodeSourceEntity, { name: 'registered_webhooks_source_id_fkey', onDelete: 'RESTRICT' })
  sourceId!: string;
  @PrimaryColumn('text', { name: 'repository_key' }) repositoryKey!: string;
  @Column('text') repository!: string;
  @Column('text', { name: 'hook_id' }) hookId!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

/** An OAuth authorization in progress: single use, valid for 10 minutes. */
@Entity({ schema: 'rules', name: 'oauth_states' })
export class OAuthStateEntity {
  @PrimaryColumn('text') state!: string;
  @Column('text') provider!: string;
  @Column('text') name!: string;
  @Column('text', { name: 'base_url', nullable: true }) baseUrl!: string | null;
  @Column('text', { name: 'api_url', nullable: true }) apiUrl!: string | null;
  @Column('uuid', { name: 'source_id', nullable: true })
  @ForeignKey(() => CodeSourceEntity, { name: 'oauth_states_source_id_fkey', onDelete: 'CASCADE' })
  sourceId!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
