import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '@kiln/domain';
import { BuildLogV1, LogLineView, LogsQuery, Page, STEP_NAMES } from '@kiln/contracts';

const STREAMS = ['stdout', 'stderr', 'system'];

/** Log lines: written in batches (one multi-row statement per batch), read with cursor paging. */
@Injectable()
export class LogsService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Idempotent: `(build, step, attempt, seq)` is unique, so a redelivered chunk inserts nothing. */
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
    await this.db.query(
      `INSERT INTO logs.build_log_lines (build_id, step, attempt, seq, stream, time, text)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[], $5::text[], $6::timestamptz[], $7::text[])
       ORDER BY 1, 2, 3, 4
       ON CONFLICT DO NOTHING`,
      cols,
    );
    return cols[0].length;
  }

  async list(q: LogsQuery): Promise<Page<LogLineView>> {
    if (!z.string().uuid().safeParse(q.buildId).success) throw new NotFoundError('build', q.buildId);
    const limit = Math.min(Math.max(Number(q.limit ?? 500), 1), 5000);
    const params: unknown[] = [q.buildId];
    let where = 'build_id = $1';
    if (q.cursor !== undefined && q.cursor !== null && q.cursor !== '') {
      if (!/^\d+$/.test(String(q.cursor))) throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
      params.push(String(q.cursor));
      where += ` AND id > $${params.length}`;
    }
    if (q.step) {
      if (!(STEP_NAMES as readonly string[]).includes(q.step)) throw new ValidationError([{ field: 'step', message: `must be one of ${STEP_NAMES.join(', ')}` }]);
      params.push(q.step);
      where += ` AND step = $${params.length}`;
    }
    if (q.stream) {
      if (!STREAMS.includes(q.stream)) throw new ValidationError([{ field: 'stream', message: `must be one of ${STREAMS.join(', ')}` }]);
      params.push(q.stream);
      where += ` AND stream = $${params.length}`;
    }
    if (q.attempt !== undefined && q.attempt !== null) {
      const attempt = Number(q.attempt);
      if (!Number.isInteger(attempt) || attempt < 1) throw new ValidationError([{ field: 'attempt', message: 'must be a whole number from 1' }]);
      params.push(attempt);
      where += ` AND attempt = $${params.length}`;
    }
    if (q.contains) {
      params.push(`%${String(q.contains).replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where += ` AND text ILIKE $${params.length}`;
    }
    const tail = q.tail !== undefined && q.tail !== null ? Number(q.tail) : null;
    if (tail !== null && (!Number.isInteger(tail) || tail < 1 || tail > 5000)) throw new ValidationError([{ field: 'tail', message: 'must be a whole number from 1 to 5000' }]);
    type Row = { id: string; seq: number; step: LogLineView['step']; attempt: number; stream: LogLineView['stream']; time: Date; text: string };
    let rows: Row[];
    if (tail !== null) {
      params.push(tail);
      rows = ((await this.db.query(`SELECT id, seq, step, attempt, stream, time, text FROM logs.build_log_lines WHERE ${where} ORDER BY id DESC LIMIT $${params.length}`, params)) as Row[]).reverse();
    } else {
      params.push(limit + 1);
      rows = await this.db.query(`SELECT id, seq, step, attempt, stream, time, text FROM logs.build_log_lines WHERE ${where} ORDER BY id LIMIT $${params.length}`, params);
    }
    if (rows.length === 0 && !q.cursor) {
      const exists: unknown[] = await this.db.query('SELECT 1 FROM logs.builds WHERE id = $1', [q.buildId]);
      if (exists.length === 0) throw new NotFoundError('build', q.buildId);
    }
    const page = tail !== null ? rows : rows.slice(0, limit);
    return {
      items: page.map((r) => ({ id: String(r.id), seq: r.seq, step: r.step, attempt: r.attempt, stream: r.stream, time: r.time.toISOString(), text: r.text })),
      nextCursor: tail === null && rows.length > limit ? String(page[page.length - 1].id) : null,
    };
  }
}
