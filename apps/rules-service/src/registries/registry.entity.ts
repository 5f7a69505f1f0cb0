import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A registry builds push to or pull from; its password is sealed with SecretBox and never shown again. */
@Entity({ schema: 'rules', name: 'registries' })
export class RegistryEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('text') host!: string;
  @Column('text') username!: string;
  @Column('text', { name: 'password_sealed' }) passwordSealed!: string;
  @Column('boolean', { default: false }) insecure!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
