import { Check, Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type Role = 'read' | 'write' | 'admin';

@Entity({ schema: 'gateway', name: 'api_tokens' })
@Check('api_tokens_role_check', `role IN ('read','write','admin')`)
export class ApiTokenEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  /** SHA-256 of the token, hex. The token itself is never stored. */
  @Column('text', { name: 'token_hash', unique: true }) tokenHash!: string;
  @Column('text') role!: Role;
  /** Namespaces the token may use; `*` is every namespace. */
  @Column('text', { array: true }) namespaces!: string[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
