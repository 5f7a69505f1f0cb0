import { MigrationInterface, QueryRunner } from 'typeorm';

/** push_events becomes the ledger of every delivery: accepted pushes, pings, ignored event types and refusals. */
export class RulesEventLedger1764238000000 implements MigrationInterface {
  name = 'RulesEventLedger1764238000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.push_events
      ADD COLUMN provider text,
      ADD COLUMN delivery_id text,
      ADD COLUMN outcome text NOT NULL DEFAULT 'accepted' CHECK (outcome IN ('accepted','ping','ignored','refused')),
      ADD COLUMN status int NOT NULL DEFAULT 202,
      ADD COLUMN reason text,
      ADD COLUMN event_type text,
      ALTER COLUMN source_id DROP NOT NULL,
      ALTER COLUMN repo_full_name DROP NOT NULL,
      ALTER COLUMN ref DROP NOT NULL,
      ALTER COLUMN event DROP NOT NULL,
      ALTER COLUMN received_at TYPE timestamptz(3)`);
    await q.query(`UPDATE rules.push_events SET provider = event->>'provider', delivery_id = event->>'deliveryId' WHERE provider IS NULL`);
    await q.query(`CREATE INDEX push_events_received ON rules.push_events (received_at DESC, event_id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM rules.push_events WHERE outcome <> 'accepted'`);
    await q.query(`ALTER TABLE rules.push_events DROP COLUMN provider, DROP COLUMN delivery_id, DROP COLUMN outcome, DROP COLUMN status, DROP COLUMN reason, DROP COLUMN event_type`);
  }
}
