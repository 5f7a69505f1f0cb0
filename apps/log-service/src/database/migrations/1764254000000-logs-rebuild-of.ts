import { MigrationInterface, QueryRunner } from 'typeorm';

/** A rebuild names the build it repeats (in its trigger); both directions of that link are looked up by it. */
export class LogsRebuildOf1764254000000 implements MigrationInterface {
  name = 'LogsRebuildOf1764254000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX builds_rebuild_of ON logs.builds ((trigger->>'rebuildOf'), created_at) WHERE trigger->>'kind' = 'rebuild'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX logs.builds_rebuild_of`);
  }
}
