import { MigrationInterface, QueryRunner } from 'typeorm';

export class GatewayInitial1764230200000 implements MigrationInterface {
  name = 'GatewayInitial1764230200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS gateway`);
    await q.query(`CREATE TABLE gateway.api_tokens (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      token_hash text NOT NULL UNIQUE,
      role text NOT NULL CHECK (role IN ('read','write','admin')),
      namespaces text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA gateway CASCADE`);
  }
}
