import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-rule build options: a timeout, build arguments (secret values sealed apart from the plain ones), whether a
 * newer push cancels the older build of the same branch, and how long the rule's builds are kept.
 */
export class RulesBuildOptions1764240000000 implements MigrationInterface {
  name = 'RulesBuildOptions1764240000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.build_rules
      ADD COLUMN timeout_seconds int NOT NULL DEFAULT 3600 CHECK (timeout_seconds BETWEEN 10 AND 86400),
      ADD COLUMN build_args jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN build_secrets_sealed text,
      ADD COLUMN cancel_superseded boolean NOT NULL DEFAULT false,
      ADD COLUMN retention jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.build_rules DROP COLUMN timeout_seconds, DROP COLUMN build_args, DROP COLUMN build_secrets_sealed,
      DROP COLUMN cancel_superseded, DROP COLUMN retention`);
  }
}
