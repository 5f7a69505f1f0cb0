import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppDatabase, dataSourceOptions, migrate } from '@kiln/platform/database';
import { gatewayDatabase } from '../../../apps/gateway/src/database/database';
import { logsDatabase } from '../../../apps/log-service/src/database/database';
import { rulesDatabase } from '../../../apps/rules-service/src/database/database';
import { postgresPassword, services } from '../support/stack';

jest.setTimeout(120_000);

/**
 * Each app's tables come from its migrations (never `synchronize`), and its entities describe them. Here both meet: on
 * a new database, after every migration, TypeORM's schema builder must find nothing to change. A table without an
 * entity, or an entity that no longer matches its migration (a column renamed, a type or default changed, an index
 * lost), fails with the statements TypeORM would run.
 */
describe('entities match the migrations', () => {
  const database = `kiln_schema_${process.pid}`;
  const admin = async <T>(sql: string, body?: (c: Client) => Promise<T>) => {
    const pg = new Client({ connectionString: services.postgresAdmin });
    await pg.connect();
    try {
      await pg.query(sql);
      return body ? await body(pg) : undefined;
    } finally {
      await pg.end();
    }
  };
  const url = () => `postgres://kiln:${encodeURIComponent(postgresPassword())}@127.0.0.1:5432/${database}`;

  beforeAll(() => admin(`CREATE DATABASE ${database} OWNER kiln`));
  afterAll(() => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

  const apps: Array<[string, AppDatabase]> = [
    ['gateway', gatewayDatabase],
    ['rules-service', rulesDatabase],
    ['log-service', logsDatabase],
  ];

  it.each(apps)('%s: every table of its schema has an entity, and no entity differs from the migrated table', async (_app, db) => {
    const ds = await new DataSource(dataSourceOptions(url(), db)).initialize();
    try {
      await migrate(ds, db.schema);
      const pending = await ds.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      const tables: Array<{ table_name: string }> = await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, [db.schema]);
      const declared = ds.entityMetadatas.filter((m) => m.schema === db.schema).map((m) => m.tableName);
      expect(tables.map((t) => t.table_name).sort()).toEqual([...declared].sort());
    } finally {
      await ds.destroy();
    }
  });
});
