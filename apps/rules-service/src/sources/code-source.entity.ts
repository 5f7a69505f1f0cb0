import type { Provider } from '@kiln/domain';
import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ schema: 'rules', name: 'code_sources' })
@Check('code_sources_provider_check', `provider IN ('github','gitlab','gitee','coding','git')`)
@Check('code_sources_status_check', `status IN ('ok','unauthorized')`)
export class CodeSourceEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') provider!: Provider;
  @Column('text') name!: string;
  @Column('text', { name: 'base_url', nullable: true }) baseUrl!: string | null;
  @Column('text', { nullable: true }) username!: string | null;
  /** Token or password, sealed with SecretBox. */
  @Column('text', { name: 'secret_sealed', nullable: true }) secretSealed!: string | null;
  /** OpenSSH private key, sealed; its public half is shown so users can add it as a deploy key. */
  @Column('text', { name: 'ssh_key_sealed', nullable: true }) sshKeySealed!: string | null;
  @Column('text', { name: 'ssh_public_key', nullable: true }) sshPublicKey!: string | null;
  /** The host's REST API base, when not the provider's default (self-managed hosts, tests). */
  @Column('text', { name: 'api_url', nullable: true }) apiUrl!: string | null;
  /** The token came from the host's OAuth flow. */
  @Column('boolean', { default: false }) oauth!: boolean;
  /** OAuth refresh token (sealed) and when the access token expires: renewed shortly before. */
  @Column('text', { name: 'oauth_refresh_sealed', nullable: true }) oauthRefreshSealed!: string | null;
  @Column('timestamptz', { name: 'oauth_expires_at', nullable: true }) oauthExpiresAt!: Date | null;
  @Column('text', { name: 'webhook_secret_sealed' }) webhookSecretSealed!: string;
  @Column('text', { default: 'ok' }) status!: 'ok' | 'unauthorized';
  @Column('text', { name: 'status_reason', nullable: true }) statusReason!: string | null;
  @Column('timestamptz', { name: 'status_at', nullable: true }) statusAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
