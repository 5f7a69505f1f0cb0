import { MigrationInterface, QueryRunner } from 'typeorm';

/** A build record keeps each platform's image digest beside the index digest. */
export class LogsPlatformImages1764252000000 implements MigrationInterface {
  name = 'LogsPlatformImages1764252000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE logs.builds ADD COLUMN images jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE logs.builds DROP COLUMN images`);
  }
}
