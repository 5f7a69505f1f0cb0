import { MigrationInterface, QueryRunner } from 'typeorm';

/** Registries with credentials (sealed), and which of them a rule pushes to and pulls base images from. */
export class RulesRegistries1764248000000 implements MigrationInterface {
  name = 'RulesRegistries1764248000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE rules.registries (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      host text NOT NULL,
      username text NOT NULL,
      password_sealed text NOT NULL,
      insecure boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`ALTER TABLE rules.build_rules
      ADD COLUMN push_registry_id uuid REFERENCES rules.registries(id) ON DELETE RESTRICT,
      ADD COLUMN pull_registry_ids jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.build_rules DROP COLUMN push_registry_id, DROP COLUMN pull_registry_ids`);
    await q.query(`DROP TABLE rules.registries`);
  }
}
