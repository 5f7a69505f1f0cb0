import { MigrationInterface, QueryRunner } from 'typeorm';

/** A rule may build one stage of a multi-stage Dockerfile, and for several platforms. */
export class RulesTargetPlatforms1764250000000 implements MigrationInterface {
  name = 'RulesTargetPlatforms1764250000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.build_rules ADD COLUMN target text, ADD COLUMN platforms jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.build_rules DROP COLUMN target, DROP COLUMN platforms`);
  }
}
