import type { Counter } from 'prom-client';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { fnv1a32, KilnError, NotFoundError, ValidationError } from '@kiln/domain';
import { BuildLogV1, LogLineView, LogSearchHit, LogSearchQuery, logsPage, LogsQuery, Page, STEP_NAMES } from '@kiln/contracts';
import { EventBus, JsonLogger, Metrics, METRICS, serveBytesRpc } from '@kiln/platform';
import { driverPool } from '@kiln/platform/database';

const STREAMS = ['stdout', 'stderr', 'system'];

/** Every column as the text the server sent (no Date, bigint or number parsing). */
const SERVER_TEXT = { getTypeParser: () => (value: string) => value };
/** repository, then id, seq, step, attempt, stream, time, text of a line (all null when the build has none). */
type PageRow = [string, string | null, string, string, string, string, string, string];

/** Log lines: written in batches (one multi-row statement per batch), read with cursor paging. */
@Injectable()
export class LogsService implements OnApplicationBootstrap {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly bus: EventBus,
    private readonly logger: JsonLogger,
    metrics: Metrics,
  ) {
    this.linesWritten = metrics.counter(METRICS.logLines);
  }
  private readonly linesWritten: Counter;

  onApplicationBootstrap(): void {
    serveBytesRpc(this.bus.nc, logsPage, 'log-service', this.logger, (q) => this.listJson(q));
  }

  /**
   * Idempotent: `(build, step, attempt, seq)` is unique, so a redelivered chunk inserts nothing. Lines get their ids
   * in arrival order, the order readers page and follow in.
   */
  async insertChunks(chunks: BuildLogV1[]): Promise<number> {
    const cols: [string[], string[], number[], number[], string[], string[], string[]] = [[], [], [], [], [], [], []];
    for (const c of chunks) {
      for (const l of c.lines) {
        cols[0].push(c.buildId);
        cols[1].push(c.step);
        cols[2].push(c.attempt);
        cols[3].push(l.seq);
        cols[4].push(l.stream);
        cols[5].push(l.time);
        cols[6].push(l.text.replace(/\0/g, ''));
      }
    }
    if (cols[0].length === 0) return 0;
    // Lines a redelivered chunk repeats are skipped (the conflict) and not counted as written.
    const [{ n }] = (await this.db.query(
      `WITH ins AS (
         INSERT INTO logs.build_log_lines (build_id, step, attempt, seq, stream, time, text)
         SELECT b, s, a, q, st, t, x FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[], $5::text[], $6::timestamptz[], $7::text[])
           WITH ORDINALITY AS u(b, s, a, q, st, t, x, n)
         ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM ins`,
      cols,
    )) as Array<{ n: number }>;
    this.linesWritten.inc(n);
    return cols[0].length;
  }

  async list(q: LogsQuery): Promise<Page<LogLineView>> {
    if (!z.string().uuid().safeParse(q.buildId).success) throw new NotFoundError('build', q.buildId);
    const limit = Math.min(Math.max(Number(q.limit ?? 500), 1), 5000);
    const params: unknown[] = [q.buildId];
    let where = 'l.build_id = b.id';
    if (q.cursor !== undefined && q.cursor !== null && q.cursor !== '') {
      if (!/^\d+$/.test(String(q.cursor))) throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
      where += ` AND l.id > $${params.push(String(q.cursor))}`;
    }
    if (q.step) {
      if (!(STEP_NAMES as readonly string[]).includes(q.step)) throw new ValidationError([{ field: 'step', message: `must be one of ${STEP_NAMES.join(', ')}` }]);
      where += ` AND l.step = $${params.push(q.step)}`;
    }
    if (q.stream) {
      if (!STREAMS.includes(q.stream)) throw new ValidationError([{ field: 'stream', message: `must be one of ${STREAMS.join(', ')}` }]);
      where += ` AND l.stream = $${params.push(q.stream)}`;
    }
    if (q.attempt !== undefined && q.attempt !== null) {
      const attempt = Number(q.attempt);
      if (!Number.isInteger(attempt) || attempt < 1) throw new ValidationError([{ field: 'attempt', message: 'must be a whole number from 1' }]);
      where += ` AND l.attempt = $${params.push(attempt)}`;
    }
    if (q.contains) where += ` AND l.text ILIKE $${params.push(`%${String(q.contains).replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`;
    const tail = q.tail !== undefined && q.tail !== null ? Number(q.tail) : null;
    if (tail !== null && (!Number.isInteger(tail) || tail < 1 || tail > 5000)) throw new ValidationError([{ field: 'tail', message: 'must be a whole number from 1 to 5000' }]);
    const take = tail ?? limit + 1;
    // One round trip: the build (it must exist, and be in the caller's namespaces) with its page of lines. Straight
    // on the driver's pool, rows as arrays of the server's text: a page is read far more often than anything else
    // here, and building Date objects only to print them again was its largest cost.
    const text = `SELECT b.image_repository, l.id, l.seq, l.step, l.attempt, l.stream,
                    to_char(l.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), l.text
       FROM logs.builds b LEFT JOIN LATERAL (
         SELECT l.id, l.seq, l.step, l.attempt, l.stream, l.time, l.text FROM logs.build_log_lines l
         WHERE ${where} ORDER BY l.id ${tail !== null ? 'DESC' : ''} LIMIT $${params.push(take)}) l ON true
       WHERE b.id = $1`;
    // Prepared per shape of filters: a connection parses and plans each shape once, not every page.
    const { rows: found } = await driverPool(this.db).query<PageRow>({ name: `logs-page-${fnv1a32(text)}`, text, values: params, rowMode: 'array', types: SERVER_TEXT });
    if (found.length === 0) throw new NotFoundError('build', q.buildId);
    const namespace = found[0][0].split('/')[0];
    if (q.namespaces && !q.namespaces.includes('*') && !q.namespaces.includes(namespace)) throw new KilnError(403, 'Forbidden', `this token may not use namespace ${namespace}`);
    const rows = found[0][1] === null ? [] : found;
    if (tail !== null) rows.reverse();
    const page = tail !== null ? rows : rows.slice(0, limit);
    const items: LogLineView[] = new Array(page.length);
    for (let i = 0; i < page.length; i++) {
      const r = page[i];
      items[i] = { id: r[1] as string, seq: Number(r[2]), step: r[3] as LogLineView['step'], attempt: Number(r[4]), stream: r[5] as LogLineView['stream'], time: r[6] as string, text: r[7] as string };
    }
    return { items, nextCursor: tail === null && rows.length > limit ? items[items.length - 1].id : null };
  }

  /** `list`, serialized once here and sent on by the gateway as it is. */
  async listJson(q: LogsQuery): Promise<string> {
    return JSON.stringify(await this.list(q));
  }

  /**
   * Lines containing a text across the builds of a rule or an image repository, newest first. The builds are found
   * first (by their indexes), then their lines; the time range bounds both.
   */
  async search(q: LogSearchQuery): Promise<Page<LogSearchHit>> {
    const problems: Array<{ field: string; message: string }> = [];
    if (typeof q.contains !== 'string' || q.contains.length < 2) problems.push({ field: 'contains', message: 'give at least 2 characters to look for' });
    if (!q.ruleId && !q.imageRepository) problems.push({ field: 'ruleId', message: 'give ruleId or repository to search in' });
    if (q.ruleId && !z.string().uuid().safeParse(q.ruleId).success) problems.push({ field: 'ruleId', message: 'must be a rule id' });
    const until = q.until ? new Date(q.until) : new Date();
    const since = q.since ? new Date(q.since) : new Date(until.getTime() - 7 * 86_400_000);
    if (Number.isNaN(since.getTime())) problems.push({ field: 'since', message: 'must be an ISO-8601 time' });
    if (Number.isNaN(until.getTime())) problems.push({ field: 'until', message: 'must be an ISO-8601 time' });
    if (q.cursor && !/^\d+$/.test(String(q.cursor))) problems.push({ field: 'cursor', message: 'is not a cursor this API gave out' });
    if (problems.length > 0) throw new ValidationError(problems);
    const limit = Math.min(Math.max(Number(q.limit ?? 100), 1), 1000);
    const params: unknown[] = [since, until];
    let builds = `b.created_at < $2 AND (b.finished_at IS NULL OR b.finished_at >= $1)`;
    if (q.ruleId) builds += ` AND b.rule_id = $${params.push(q.ruleId)}`;
    if (q.imageRepository) builds += ` AND b.image_repository = $${params.push(q.imageRepository)}`;
    if (q.namespaces && !q.namespaces.includes('*')) builds += ` AND split_part(b.image_repository, '/', 1) = ANY($${params.push(q.namespaces)}::text[])`;
    let lines = `l.time >= $1 AND l.time < $2 AND l.text ILIKE $${params.push(`%${(q.contains ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`;
    if (q.cursor) lines += ` AND l.id < $${params.push(String(q.cursor))}`;
    type Row = {
      id: string;
      seq: number;
      step: LogLineView['step'];
      attempt: number;
      stream: LogLineView['stream'];
      time: Date;
      text: string;
      build_id: string;
      rule_id: string;
      image_repository: string;
      ref: string;
      commit: string;
    };
    const rows: Row[] = await this.db.query(
      `SELECT l.id, l.seq, l.step, l.attempt, l.stream, l.time, l.text, b.id AS build_id, b.rule_id, b.image_repository, b.ref, b.commit
       FROM logs.builds b JOIN logs.build_log_lines l ON l.build_id = b.id
       WHERE ${builds} AND ${lines}
       ORDER BY l.id DESC LIMIT $${params.push(limit + 1)}`,
      params,
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        id: String(r.id),
        seq: r.seq,
        step: r.step,
        attempt: r.attempt,
        stream: r.stream,
        time: r.time.toISOString(),
        text: r.text,
        buildId: r.build_id,
        ruleId: r.rule_id,
        imageRepository: r.image_repository,
        ref: r.ref,
        commit: r.commit,
      })),
      nextCursor: rows.length > limit ? String(page[page.length - 1].id) : null,
    };
  }
}
