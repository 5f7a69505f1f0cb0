import { MigrationInterface, QueryRunner } from 'typeorm';

/** A build record keeps each Dockerfile instruction as BuildKit ran it (status, CACHED included, and times). */
export class LogsBuildInstructions1764256000000 implements MigrationInterface {
  name = 'LogsBuildInstructions1764256000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE logs.builds ADD COLUMN instructions jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE logs.builds DROP COLUMN instructions`);
  }
}
