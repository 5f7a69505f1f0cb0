import { DataSource, DataSourceOptions, MixedList, EntitySchema } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { Pool } from 'pg';

export interface AppDatabase {
  /** Postgres schema the app owns, e.g. `rules`. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
}

/** Each app owns one schema and keeps its own migration history. Never `synchronize`. */
export function dataSourceOptions(url: string, db: AppDatabase): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: db.entities,
    migrations: db.migrations,
    migrationsTableName: `kiln_migrations_${db.schema}`,
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    logging: ['error'],
    extra: { max: 10, application_name: `kiln-${db.schema}` },
  };
}

/**
 * Run pending migrations while holding a Postgres advisory lock, so replicas starting together take turns
 * instead of racing to create the same tables.
 */
export async function migrate(dataSource: DataSource, schema: string): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  const key = lockKey(schema);
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [key]);
    const done = await dataSource.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
    await runner.release();
  }
}

/** Open a data source and bring its schema up to date: the factory handed to TypeOrmModule. */
export async function openDatabase(options: DataSourceOptions, schema: string): Promise<DataSource> {
  const ds = await new DataSource(options).initialize();
  await migrate(ds, schema);
  return ds;
}

function lockKey(schema: string): number {
  let h = 0;
  for (const c of `kiln:${schema}`) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
  return h;
}

/**
 * The pg pool under a TypeORM data source, for the few hot statements that need what TypeORM's `query` does not
 * pass on: prepared (named) statements, rows as arrays, per-query type parsers.
 */
export function driverPool(db: DataSource): Pool {
  return (db.driver as PostgresDriver).master as Pool;
}
