import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Host REST APIs: a source may name its API base; OAuth authorizations in flight (single-use states); and the
 * webhooks Kiln registered on repositories (one per source and repository, removed with the last rule); and
 * whether a rule checks out submodules.
 */
export class RulesHostApis1764244000000 implements MigrationInterface {
  name = 'RulesHostApis1764244000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.code_sources ADD COLUMN api_url text, ADD COLUMN oauth boolean NOT NULL DEFAULT false,
      ADD COLUMN oauth_refresh_sealed text, ADD COLUMN oauth_expires_at timestamptz`);
    await q.query(`ALTER TABLE rules.build_rules ADD COLUMN submodules boolean NOT NULL DEFAULT false`);
    await q.query(`CREATE TABLE rules.oauth_states (
      state text PRIMARY KEY,
      provider text NOT NULL,
      name text NOT NULL,
      base_url text,
      api_url text,
      source_id uuid REFERENCES rules.code_sources(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE rules.registered_webhooks (
      source_id uuid NOT NULL REFERENCES rules.code_sources(id) ON DELETE RESTRICT,
      repository_key text NOT NULL,
      repository text NOT NULL,
      hook_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (source_id, repository_key))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rules.registered_webhooks`);
    await q.query(`DROP TABLE rules.oauth_states`);
    await q.query(`ALTER TABLE rules.build_rules DROP COLUMN submodules`);
    await q.query(`ALTER TABLE rules.code_sources DROP COLUMN api_url, DROP COLUMN oauth, DROP COLUMN oauth_refresh_sealed, DROP COLUMN oauth_expires_at`);
  }
}
