import { DataSource, DataSourceOptions, MixedList, EntitySchema, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { ValidationError } from '@kiln/domain';
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

/** A list's query, newest first, and how to read its rows: for `newestFirstPage`. */
export interface NewestFirst<E, V> {
  /** The row's time and id columns, with the query's alias (`b.created_at`, `b.id`): the order and the cursor. */
  timeColumn: string;
  idColumn: string;
  time: (row: E) => Date;
  id: (row: E) => string;
  view: (row: E) => V;
  /** Page size asked for (1 to 200; default 50), the cursor a previous page gave, and ISO-8601 bounds of the time. */
  limit?: number;
  cursor?: string;
  since?: string;
  until?: string;
}

/**
 * Keyset paging, newest first, on (time, id): the time range, the cursor (opaque: `base64url(time|id)`), and one row
 * more than the page to know whether another follows. A malformed bound or cursor is a 400 naming it.
 */
export async function newestFirstPage<E extends ObjectLiteral, V>(qb: SelectQueryBuilder<E>, o: NewestFirst<E, V>): Promise<{ items: V[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(Number(o.limit ?? 50), 1), 200);
  qb.orderBy(o.timeColumn, 'DESC')
    .addOrderBy(o.idColumn, 'DESC')
    .limit(limit + 1);
  for (const [field, op] of [
    ['since', '>='],
    ['until', '<'],
  ] as const) {
    const value = o[field];
    if (value === undefined) continue;
    if (Number.isNaN(new Date(value).getTime())) throw new ValidationError([{ field, message: 'must be an ISO-8601 time' }]);
    qb.andWhere(`${o.timeColumn} ${op} :${field}`, { [field]: new Date(value) });
  }
  if (o.cursor) {
    const [at, id] = Buffer.from(o.cursor, 'base64url').toString().split('|');
    if (!at || !id || Number.isNaN(new Date(at).getTime())) throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
    qb.andWhere(`(${o.timeColumn}, ${o.idColumn}) < (:cursorAt, :cursorId)`, { cursorAt: at, cursorId: id });
  }
  const rows = await qb.getMany();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(o.view), nextCursor: rows.length > limit && last ? Buffer.from(`${o.time(last).toISOString()}|${o.id(last)}`).toString('base64url') : null };
}
