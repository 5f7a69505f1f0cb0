import { MigrationInterface, QueryRunner } from 'typeorm';

export class LogsInitial1764230100000 implements MigrationInterface {
  name = 'LogsInitial1764230100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS logs`);
    await q.query(`CREATE TABLE logs.builds (
      id uuid PRIMARY KEY,
      rule_id uuid NOT NULL,
      rule_name text NOT NULL,
      rule_deleted boolean NOT NULL DEFAULT false,
      image_repository text NOT NULL,
      source_id uuid NOT NULL,
      trigger jsonb NOT NULL,
      status text NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled')),
      ref text NOT NULL,
      ref_type text NOT NULL,
      ref_name text NOT NULL,
      commit text NOT NULL,
      tags text[] NOT NULL DEFAULT '{}',
      digest text,
      workflow_id text NOT NULL,
      failure jsonb,
      created_at timestamptz NOT NULL,
      started_at timestamptz,
      finished_at timestamptz)`);
    await q.query(`CREATE INDEX builds_rule_created ON logs.builds (rule_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX builds_created ON logs.builds (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX builds_image_created ON logs.builds (image_repository, created_at DESC, id DESC)`);
    await q.query(`CREATE TABLE logs.build_steps (
      build_id uuid NOT NULL REFERENCES logs.builds(id) ON DELETE CASCADE,
      name text NOT NULL,
      attempt int NOT NULL,
      status text NOT NULL,
      started_at timestamptz,
      finished_at timestamptz,
      message text,
      PRIMARY KEY (build_id, name, attempt))`);
    // Lines may arrive before their build record (separate streams), so no foreign key; delete removes both.
    await q.query(`CREATE TABLE logs.build_log_lines (
      id bigserial PRIMARY KEY,
      build_id uuid NOT NULL,
      step text NOT NULL,
      attempt int NOT NULL,
      seq int NOT NULL,
      stream text NOT NULL,
      time timestamptz NOT NULL,
      text text NOT NULL,
      UNIQUE (build_id, step, attempt, seq))`);
    await q.query(`CREATE INDEX build_log_lines_build_id ON logs.build_log_lines (build_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA logs CASCADE`);
  }
}
