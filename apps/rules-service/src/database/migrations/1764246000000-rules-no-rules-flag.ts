import { MigrationInterface, QueryRunner } from 'typeorm';

const NO_RULE_ID = '00000000-0000-0000-0000-000000000000';

/**
 * "No rule uses this repository" becomes a flag on the ledger row, set by the statement that stores the push,
 * instead of a decision row under the nil rule id: most pushes of a busy host match no rule, and that row (with its
 * index entry and foreign-key check) was a quarter of the database's work per push. Existing rows move over.
 */
export class RulesNoRulesFlag1764246000000 implements MigrationInterface {
  name = 'RulesNoRulesFlag1764246000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rules.push_events ADD COLUMN no_rules boolean NOT NULL DEFAULT false`);
    await q.query(`UPDATE rules.push_events e SET no_rules = true FROM rules.event_decisions d WHERE d.event_id = e.event_id AND d.rule_id = $1`, [NO_RULE_ID]);
    await q.query(`DELETE FROM rules.event_decisions WHERE rule_id = $1`, [NO_RULE_ID]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `INSERT INTO rules.event_decisions (event_id, rule_id, decision, reason, created_at)
       SELECT event_id, $1, 'no-rules', 'no build rule uses ' || repo_full_name || ' on this source', received_at FROM rules.push_events WHERE no_rules
       ON CONFLICT DO NOTHING`,
      [NO_RULE_ID],
    );
    await q.query(`ALTER TABLE rules.push_events DROP COLUMN no_rules`);
  }
}
