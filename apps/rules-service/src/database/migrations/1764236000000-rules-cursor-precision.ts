import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * List cursors carry `created_at` as an ISO string (milliseconds); Postgres kept microseconds, so a cursor
 * could not name its own row exactly and pages repeated it. Store milliseconds, as the cursor does.
 */
export class RulesCursorPrecision1764236000000 implements MigrationInterface {
  name = 'RulesCursorPrecision1764236000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.build_rules ALTER COLUMN created_at TYPE timestamptz(3)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.build_rules ALTER COLUMN created_at TYPE timestamptz`);
  }
}
