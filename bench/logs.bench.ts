import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { connect, StringCodec } from 'nats';
import { Client } from 'pg';
import { buildLogSubject, buildLogV1, BuildLogV1, LogLine, logsPage } from '@kiln/contracts';
import { EventBus, JsonLogger, natsOptions, tuneHeap } from '@kiln/platform';
import { startStack, Stack } from '../test/e2e/support/stack';

const INGEST_LINES = Number(process.env.BENCH_INGEST_LINES ?? 200_000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 20);
const CHUNK = 200; // lines per chunk, as the workers' StepLog flushes them
const BASELINE_ROWS_PER_INSERT = 1000;
const QUERY_RUNS = Number(process.env.BENCH_QUERY_RUNS ?? 1000);
const WARMUP_RUNS = 300;
const SIZES = (process.env.BENCH_SIZES ?? '1000000,10000000').split(',').map(Number);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const row = (label: string, a: string, b: string, goal = '') => console.log(`${label.padEnd(34)}${a.padStart(16)}${b.padStart(16)}   ${goal}`);
const text = (i: number) => `Step ${i % 17}/17 : RUN make -j4 target-${i} && echo compiled module ${i} in 0.${i % 1000}s`;

function lines(from: number, n: number): LogLine[] {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, k) => ({ seq: from + k, time: now, stream: k % 9 === 0 ? 'stderr' : 'stdout', text: text(from + k) }));
}

async function db(stack: Stack): Promise<Client> {
  const pg = new Client({ connectionString: stack.databaseAdminUrl });
  await pg.connect();
  return pg;
}

async function count(pg: Client): Promise<number> {
  return (await pg.query('SELECT count(*)::int AS n FROM logs.build_log_lines')).rows[0].n;
}

/**
 * Ingest: a backlog of log chunks from STREAMS concurrent builds is waiting in JetStream when log-service starts;
 * the time until every line is committed gives lines/s through log-service (decode, batch, insert, ack). The
 * baseline inserts the same lines into the same table with multi-row INSERTs from one connection.
 */
async function ingest(stack: Stack): Promise<void> {
  console.log(
    `Log ingest: ${INGEST_LINES.toLocaleString()} lines from ${STREAMS} builds in chunks of ${CHUNK}, through log-service versus multi-row INSERTs (${BASELINE_ROWS_PER_INSERT} rows each)\n`,
  );
  const pg = await db(stack);
  const bus = await EventBus.connect(stack.natsAdmin, 'bench-logs', new JsonLogger('bench', 'warn'));
  try {
    await stack.stopApp('log-service');
    const perStream = Math.ceil(INGEST_LINES / STREAMS);
    const builds = Array.from({ length: STREAMS }, () => randomUUID());
    const t0 = performance.now();
    await Promise.all(
      builds.map(async (buildId) => {
        for (let seq = 0; seq < perStream; seq += CHUNK) {
          const chunk: BuildLogV1 = { buildId, step: 'build', attempt: 1, lines: lines(seq, Math.min(CHUNK, perStream - seq)) };
          await bus.publish(buildLogV1, chunk, { subject: buildLogSubject(buildId), msgId: `${buildId}:build:1:${seq}` });
        }
      }),
    );
    const publishMs = performance.now() - t0;
    const total = perStream * STREAMS;
    const before = await count(pg);
    const t1 = performance.now();
    await stack.startApp('log-service');
    while ((await count(pg)) - before < total) await new Promise((r) => setTimeout(r, 20));
    const kilnMs = performance.now() - t1;

    // Baseline: the same lines, multi-row INSERTs into the same table, one connection.
    const t2 = performance.now();
    for (const buildId of builds.map(() => randomUUID())) {
      for (let seq = 0; seq < perStream; seq += BASELINE_ROWS_PER_INSERT) {
        const batch = lines(seq, Math.min(BASELINE_ROWS_PER_INSERT, perStream - seq));
        const values: unknown[] = [];
        const tuples = batch.map((l, k) => {
          values.push(buildId, 'build', 1, l.seq, l.stream, l.time, l.text);
          const b = k * 7;
          return `($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7})`;
        });
        await pg.query(`INSERT INTO logs.build_log_lines (build_id, step, attempt, seq, stream, time, text) VALUES ${tuples.join(',')}`, values);
      }
    }
    const baseMs = performance.now() - t2;
    const kilnRate = total / (kilnMs / 1000);
    const baseRate = total / (baseMs / 1000);
    row('', 'INSERT script', 'log-service', 'goal');
    row('lines/s', baseRate.toFixed(0), kilnRate.toFixed(0), `≥ 0.5× script: ${(kilnRate / baseRate).toFixed(2)}× ${kilnRate / baseRate >= 0.5 ? 'met' : 'NOT met'}`);
    row('time for all lines, ms', baseMs.toFixed(0), kilnMs.toFixed(0));
    console.log(`(publishing the backlog into JetStream took ${publishMs.toFixed(0)} ms: ${(total / (publishMs / 1000)).toFixed(0)} lines/s)\n`);
  } finally {
    await bus.close();
    await pg.end();
  }
}

/** Fill one build up to `size` lines (generate_series in 1 M steps), as a long build's log would be stored. */
async function fill(pg: Client, buildId: string, size: number): Promise<void> {
  const have = (await pg.query('SELECT count(*)::int AS n FROM logs.build_log_lines WHERE build_id = $1', [buildId])).rows[0].n as number;
  for (let from = have; from < size; from += 1_000_000) {
    const to = Math.min(size, from + 1_000_000) - 1;
    await pg.query(
      `INSERT INTO logs.build_log_lines (build_id, step, attempt, seq, stream, time, text)
       SELECT $1, 'build', 1, g, CASE WHEN g % 9 = 0 THEN 'stderr' ELSE 'stdout' END, now(),
              'Step ' || (g % 17) || '/17 : RUN make -j4 target-' || g || ' && echo compiled module ' || g
       FROM generate_series($2::int, $3::int) g`,
      [buildId, from, to],
    );
  }
  await pg.query('VACUUM ANALYZE logs.build_log_lines');
  // Queries are measured on a settled database: the bulk load's dirty pages written out first, not mid-checkpoint.
  await pg.query('CHECKPOINT');
}

/**
 * GET on one keep-alive connection with Node's http client, the HTTP counterpart of the open pg connection the direct
 * queries use (Node 20's fetch costs the client ~0.7 ms more per 200-line answer, which is not the server's time).
 */
function httpClient(baseUrl: string, headers: Record<string, string>) {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: url.hostname, port: url.port, path, agent, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

async function timeIt(runs: number, f: (i: number) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP_RUNS; i++) await f(i);
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Two ways of asking the same thing, timed in alternation (a, b, a, b...) after both are warm, so that whatever else
 * the machine does in the meantime weighs on both alike.
 */
async function timePair(runs: number, a: (i: number) => Promise<void>, b: (i: number) => Promise<void>): Promise<[number[], number[]]> {
  for (let i = 0; i < WARMUP_RUNS; i++) {
    await a(i);
    await b(i);
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await a(i);
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b(i);
    tb.push(performance.now() - t0);
  }
  return [ta, tb];
}

/** Query: tail-200 and 500-line pages of one build, through the gateway versus the same SQL on an open connection. */
async function query(stack: Stack): Promise<void> {
  console.log(
    `Log queries: one build's log, ${QUERY_RUNS} sequential requests each after ${WARMUP_RUNS} to warm up, gateway (HTTP → NATS → log-service → SQL) and the same SQL on an open connection taking turns\n`,
  );
  const pg = await db(stack);
  const buildId = randomUUID();
  const ruleId = randomUUID();
  await pg.query(
    `INSERT INTO logs.builds (id, rule_id, rule_name, image_repository, source_id, trigger, status, ref, ref_type, ref_name, commit, workflow_id, created_at)
     VALUES ($1, $2, 'bench', 'bench/logs', $2, '{"kind":"manual","by":"bench"}', 'succeeded', 'refs/heads/main', 'branch', 'main', 'abc', 'bench', now())`,
    [buildId, ruleId],
  );
  const headers = { Authorization: `Bearer ${stack.adminToken}` };
  const gw = httpClient(stack.gatewayUrl, headers);
  const nc = await connect(natsOptions(stack.natsAdmin, 'bench'));
  const sc = StringCodec();
  try {
    for (const size of SIZES) {
      const t0 = performance.now();
      await fill(pg, buildId, size);
      const { min, max } = (await pg.query('SELECT min(id)::bigint AS min, max(id)::bigint AS max FROM logs.build_log_lines WHERE build_id = $1', [buildId])).rows[0];
      const cursorAt = (i: number) => String(Number(min) + Math.floor((((i * 7919) % 1000) / 1000) * (Number(max) - Number(min) - 1000)));
      console.log(`${size.toLocaleString()} lines stored for the build (filled in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      const [sqlTail, gwTail] = await timePair(
        QUERY_RUNS,
        async () => void (await pg.query('SELECT id, seq, step, attempt, stream, time, text FROM logs.build_log_lines WHERE build_id = $1 ORDER BY id DESC LIMIT $2', [buildId, 200])),
        async () => {
          const res = await gw.get(`/api/v1/builds/${buildId}/logs?tail=200`);
          if ((JSON.parse(res.body.toString('utf8')) as { items: unknown[] }).items.length !== 200) throw new Error(`tail did not give 200 lines (${res.status})`);
        },
      );
      const [sqlPage, gwPage] = await timePair(
        QUERY_RUNS,
        async (i) =>
          void (await pg.query('SELECT id, seq, step, attempt, stream, time, text FROM logs.build_log_lines WHERE build_id = $1 AND id > $2 ORDER BY id LIMIT $3', [buildId, cursorAt(i), 501])),
        async (i) => {
          const res = await gw.get(`/api/v1/builds/${buildId}/logs?cursor=${cursorAt(i)}&limit=500`);
          if ((JSON.parse(res.body.toString('utf8')) as { items: unknown[] }).items.length !== 500) throw new Error(`page did not give 500 lines (${res.status})`);
        },
      );
      // Where the gateway's time goes: the same request straight to log-service over NATS (the gateway's own call).
      const rpc = async (data: object) => {
        const m = await nc.request(logsPage.subject, sc.encode(JSON.stringify(data)), { timeout: 5000 });
        if (!sc.decode(m.data).includes('"items"')) throw new Error('rpc failed');
      };
      const rpcTail = await timeIt(QUERY_RUNS, () => rpc({ buildId, tail: 200 }));
      const rpcPage = await timeIt(QUERY_RUNS, (i) => rpc({ buildId, cursor: cursorAt(i), limit: 500 }));
      console.log(`  (log-service over NATS alone, p50: tail ${pct(rpcTail, 50).toFixed(2)} ms, page ${pct(rpcPage, 50).toFixed(2)} ms)`);
      row('', 'direct SQL', 'gateway', 'goal');
      for (const [label, sql, gw] of [
        ['tail=200', sqlTail, gwTail],
        ['500-line page', sqlPage, gwPage],
      ] as const) {
        const ratio = pct(gw, 50) / pct(sql, 50);
        row(
          `${label} p50 / p99, ms`,
          `${pct(sql, 50).toFixed(2)} / ${pct(sql, 99).toFixed(2)}`,
          `${pct(gw, 50).toFixed(2)} / ${pct(gw, 99).toFixed(2)}`,
          `≤ 3× direct (p50): ${ratio.toFixed(1)}× ${ratio <= 3 ? 'met' : 'NOT met'}${size >= 10_000_000 ? `; p99 < 15 ms: ${pct(gw, 99) < 15 ? 'met' : 'NOT met'}` : ''}`,
        );
      }
      console.log('');
    }
  } finally {
    gw.close();
    await nc.close();
    await pg.end();
  }
}

async function main(): Promise<void> {
  tuneHeap(); // the services' heap setting, so that this client's own collections add as little as possible to either side
  const stack = await startStack(19380);
  try {
    await ingest(stack);
    await query(stack);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
