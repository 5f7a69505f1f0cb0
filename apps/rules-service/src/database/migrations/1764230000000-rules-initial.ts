import { MigrationInterface, QueryRunner } from 'typeorm';

export class RulesInitial1764230000000 implements MigrationInterface {
  name = 'RulesInitial1764230000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS rules`);
    await q.query(`CREATE TABLE rules.code_sources (
      id uuid PRIMARY KEY,
      provider text NOT NULL CHECK (provider IN ('github','gitlab','gitee','coding','git')),
      name text NOT NULL,
      base_url text,
      username text,
      secret_sealed text,
      webhook_secret_sealed text NOT NULL,
      status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok','unauthorized')),
      status_reason text,
      status_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE rules.build_rules (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      namespace text NOT NULL,
      image_repository text NOT NULL,
      source_id uuid NOT NULL REFERENCES rules.code_sources(id) ON DELETE RESTRICT,
      repository text NOT NULL,
      repository_key text NOT NULL,
      trigger jsonb NOT NULL,
      dockerfile_path text NOT NULL,
      context_dir text NOT NULL,
      tag_rule jsonb NOT NULL,
      auto_trigger boolean NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX build_rules_source_repo ON rules.build_rules (source_id, repository_key)`);
    await q.query(`CREATE INDEX build_rules_image ON rules.build_rules (namespace, image_repository, created_at)`);
    await q.query(`CREATE TABLE rules.push_events (
      event_id text PRIMARY KEY,
      source_id uuid NOT NULL,
      repo_full_name text NOT NULL,
      ref text NOT NULL,
      event jsonb NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX push_events_source_time ON rules.push_events (source_id, received_at)`);
    await q.query(`CREATE TABLE rules.event_decisions (
      event_id text NOT NULL REFERENCES rules.push_events(event_id) ON DELETE CASCADE,
      rule_id uuid NOT NULL,
      decision text NOT NULL,
      reason text,
      build_id uuid,
      workflow_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (event_id, rule_id))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA rules CASCADE`);
  }
}
