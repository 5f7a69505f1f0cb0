import { Client } from 'pg';
import { buildLogSubject, buildLogV1, BuildLogV1, LogLine } from '@kiln/contracts';
import { EventBus, JsonLogger } from '@kiln/platform/standalone';
import { Api } from '../support/api';
import { buildNow, LogLineItem as Line } from '../support/builds';
import { expectEventually } from '../support/expect-eventually';
import { GitFixture } from '../support/git-fixture';
import { PostgresServer, startPostgres } from '../support/postgres';
import { postgresPassword, Stack, startStack } from '../support/stack';

jest.setTimeout(300_000);

/** What the database holds of a build: its record (0 or 1), its log lines and its step rows. */
async function storedOf(pg: Client, id: string): Promise<{ b: number; l: number; s: number }> {
  const { rows } = await pg.query(
    'SELECT (SELECT count(*) FROM logs.builds WHERE id = $1)::int AS b, (SELECT count(*) FROM logs.build_log_lines WHERE build_id = $1)::int AS l, (SELECT count(*) FROM logs.build_steps WHERE build_id = $1)::int AS s',
    [id],
  );
  return rows[0] as { b: number; l: number; s: number };
}

describe('log storage: a PostgreSQL restart, searches across builds, retention', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  let source: { id: string; webhookUrl: string; webhookSecret: string };
  const run = `${process.pid}${Date.now()}`;

  let postgres: PostgresServer;

  beforeAll(async () => {
    // A PostgreSQL server of its own, which the restart test stops (the machine's serves the other files' stacks).
    postgres = await startPostgres(postgresPassword());
    // A global policy (30 days) for rules without their own, applied by the scheduled job every 2 s.
    stack = await startStack(19280, { postgres, env: { KILN_RETENTION_MAX_AGE_DAYS: '30', KILN_RETENTION_INTERVAL_SECONDS: '2' } });
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
    source = await api.ok('POST', '/api/v1/sources', { provider: 'github', name: 'storage', baseUrl: git.baseUrl, token: 'tok' });
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
    postgres?.destroy();
  });

  async function ruleWith(name: string, dockerfile: string, extra: Record<string, unknown> = {}) {
    const repo = git.createRepo(`acme/${name}-${run}`);
    repo.commit({ Dockerfile: dockerfile }, name);
    repo.push('refs/heads/main');
    return {
      repo,
      rule: await api.ok<{ id: string }>('POST', `/api/v1/namespaces/store/repositories/${name}/build-rules`, {
        sourceId: source.id,
        repository: repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
        ...extra,
      }),
    };
  }

  const allLines = async (id: string) => {
    const out: Line[] = [];
    let cursor = '';
    for (;;) {
      const page = await api.ok<{ items: Line[]; nextCursor: string | null }>('GET', `/api/v1/builds/${id}/logs?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      out.push(...page.items);
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
  };

  it('loses no line and fails no build when PostgreSQL restarts mid-build', async () => {
    const { rule } = await ruleWith('pgrestart', `FROM kiln/busybox:local\nRUN echo ${run} && for i in $(seq 1 300); do echo "pg-line $i"; sleep 0.02; done\n`);
    const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    await expectEventually(async () => expect((await allLines(buildId)).some((l) => l.text === 'pg-line 20')).toBe(true), 60_000, 100);
    const bus = await EventBus.connect(stack.natsAdmin, 'logs-pg-restart', new JsonLogger('test', 'error'));
    try {
      const jsm = await bus.nc.jetstreamManager();
      const subject = buildLogSubject(buildId);
      const chunks = async () => (await jsm.streams.info(buildLogV1.stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
      postgres.stop();
      // The build's lines keep arriving in JetStream while the database is down: a few chunks of them, then it comes back.
      const atStop = await chunks();
      await expectEventually(async () => expect(await chunks()).toBeGreaterThanOrEqual(atStop + 3), 30_000, 100);
    } finally {
      postgres.start();
      await bus.close();
    }
    const b = await expectEventually(
      async () => {
        const d = await api.ok<{ status: string }>('GET', `/api/v1/builds/${buildId}`);
        expect(['succeeded', 'failed', 'cancelled']).toContain(d.status);
        return d;
      },
      120_000,
      250,
    );
    expect(b.status).toBe('succeeded');
    const lines = await expectEventually(
      async () => {
        const got = (await allLines(buildId)).filter((l) => l.text.startsWith('pg-line '));
        expect(got.length).toBeGreaterThanOrEqual(300);
        return got;
      },
      30_000,
      250,
    );
    // Every line exactly once, in order.
    expect(lines.map((l) => l.text)).toEqual(Array.from({ length: 300 }, (_, i) => `pg-line ${i + 1}`));
  });

  it('finds a text across the builds of a rule or a repository, in a time range, with paging', async () => {
    const marker = `needle-${run}`;
    const dockerfile = `FROM kiln/busybox:local\nCOPY stamp /stamp\nRUN echo "${marker} in build" && echo "hay"\n`;
    const { rule, repo } = await ruleWith('search', dockerfile);
    repo.commit({ Dockerfile: dockerfile, stamp: 'a' }, 'a');
    repo.push('refs/heads/main');
    const { rule: other } = await ruleWith('search-other', `FROM kiln/busybox:local\nRUN echo "${marker} elsewhere"\n`);
    const a = await buildNow(api, rule.id);
    const t = new Date().toISOString();
    repo.commit({ stamp: 'b' }, 'b'); // a new layer, so the RUN prints again
    repo.push('refs/heads/main');
    const b = await buildNow(api, rule.id);
    await buildNow(api, other.id);
    type Hit = Line & { buildId: string; ruleId: string; imageRepository: string };
    const search = (q: string) => api.ok<{ items: Hit[]; nextCursor: string | null }>('GET', `/api/v1/logs/search?${q}`);
    const byRule = await search(`contains=${marker}&ruleId=${rule.id}`);
    // Newest first; each build's line (the echo's output, not the step header, which holds the marker in quotes too).
    const outputs = byRule.items.filter((h) => h.text === `${marker} in build`);
    expect(outputs.map((h) => h.buildId)).toEqual([b.id, a.id]);
    expect(byRule.items.every((h) => h.ruleId === rule.id && h.imageRepository === 'store/search')).toBe(true);
    const byRepo = await search(`contains=${marker.toUpperCase()}&repository=store/search-other`);
    expect(byRepo.items.some((h) => h.text === `${marker} elsewhere`)).toBe(true);
    const since = await search(`contains=${marker}&ruleId=${rule.id}&since=${encodeURIComponent(t)}`);
    expect(new Set(since.items.map((h) => h.buildId))).toEqual(new Set([b.id]));
    const page1 = await search(`contains=${marker}&ruleId=${rule.id}&limit=1`);
    const page2 = await search(`contains=${marker}&ruleId=${rule.id}&limit=1&cursor=${page1.nextCursor}`);
    expect(page1.items[0].id).not.toBe(page2.items[0].id);
    expect(Number(page2.items[0].id)).toBeLessThan(Number(page1.items[0].id));
    for (const bad of ['contains=x&ruleId=' + rule.id, `contains=${marker}`, `contains=${marker}&ruleId=nope`, `contains=${marker}&ruleId=${rule.id}&since=yesterday`])
      expect((await api.call('GET', `/api/v1/logs/search?${bad}`)).status).toBe(400);
  });

  it('stores a redelivered chunk once, and deleting a build removes its record, steps and lines', async () => {
    const pg = new Client({ connectionString: stack.databaseAdminUrl });
    await pg.connect();
    const bus = await EventBus.connect(stack.natsAdmin, 'logs-spec', new JsonLogger('test', 'error'));
    try {
      const count = (id: string) => storedOf(pg, id);
      const { rule } = await ruleWith('redeliver', 'FROM kiln/busybox:local\nRUN echo redelivered\n');
      const build = await buildNow(api, rule.id);
      const before = await allLines(build.id);
      const stored = await count(build.id);
      expect(stored.l).toBe(before.length);
      // A chunk that was already stored comes again under a new message id (past JetStream's duplicate window, say),
      // with one line after it that is new.
      const last = before[before.length - 1];
      const again: BuildLogV1 = {
        buildId: build.id,
        step: last.step as BuildLogV1['step'],
        attempt: last.attempt,
        lines: [
          { seq: last.seq, time: last.time, stream: last.stream as LogLine['stream'], text: 'a different text for a line already stored' },
          { seq: last.seq + 1, time: new Date().toISOString(), stream: 'system', text: 'the line after it' },
        ],
      };
      await bus.publish(buildLogV1, again, { subject: buildLogSubject(build.id), msgId: `spec-redelivery-${build.id}` });
      await expectEventually(async () => expect((await count(build.id)).l).toBe(before.length + 1), 20_000, 100);
      const after = await allLines(build.id);
      expect(after.slice(0, -1)).toEqual(before);
      expect(after[after.length - 1]).toMatchObject({ seq: last.seq + 1, text: 'the line after it' });

      expect(stored.s).toBeGreaterThan(0);
      expect((await api.call('DELETE', `/api/v1/builds/${build.id}`)).status).toBe(200);
      expect(await count(build.id)).toEqual({ b: 0, l: 0, s: 0 });
      expect((await api.call('GET', `/api/v1/builds/${build.id}/logs`)).status).toBe(404);
    } finally {
      await bus.close();
      await pg.end();
    }
  });

  it('keeps the last N builds of a rule, drops builds older than its days and the global policy, and never a running one', async () => {
    const pg = new Client({ connectionString: stack.databaseAdminUrl });
    await pg.connect();
    try {
      const count = (id: string) => storedOf(pg, id);
      const { rule: keep } = await ruleWith('keep2', 'FROM kiln/busybox:local\nRUN echo keep\n', { retention: { keepLast: 2 } });
      const k1 = await buildNow(api, keep.id);
      // With two builds the rule is within its policy: the job (every 2 s) keeps the first, lines and all.
      expect((await count(k1.id)).l).toBeGreaterThan(0);
      const k2 = await buildNow(api, keep.id);
      // A run of the policies now (the scheduled job does the same every 2 s): two builds are within keepLast 2.
      await api.ok('POST', '/api/v1/admin/retention/run');
      expect((await count(k1.id)).b).toBe(1);
      const k3 = await buildNow(api, keep.id);
      await expectEventually(async () => expect(await count(k1.id)).toEqual({ b: 0, l: 0, s: 0 }), 20_000, 250);
      expect((await api.call('GET', `/api/v1/builds/${k1.id}`)).status).toBe(404);
      for (const b of [k2, k3]) expect((await count(b.id)).b).toBe(1);

      const { rule: days } = await ruleWith('days', 'FROM kiln/busybox:local\nRUN echo days\n', { retention: { maxAgeDays: 3 } });
      const d1 = await buildNow(api, days.id);
      const d2 = await buildNow(api, days.id);
      // A running build as old as the others: never deleted. (It runs until the test cancels it: builds got faster, and a
      // fixed sleep ended before the policies ran.)
      const { rule: slow } = await ruleWith('slowret', 'FROM kiln/busybox:local\nRUN sleep 300\n', { retention: { maxAgeDays: 3 } });
      const { buildId: running } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${slow.id}/builds`, { branch: 'main' });
      await expectEventually(async () => expect((await api.ok<{ status: string }>('GET', `/api/v1/builds/${running}`)).status).toBe('running'), 30_000, 100);
      // No rule policy: the global 30 days apply.
      const { rule: plain } = await ruleWith('plain', 'FROM kiln/busybox:local\nRUN echo plain\n');
      const p40 = await buildNow(api, plain.id);
      const p20 = await buildNow(api, plain.id);
      await pg.query(`UPDATE logs.builds SET created_at = now() - interval '4 days' WHERE id = ANY($1::uuid[])`, [[d1.id, running]]);
      await pg.query(`UPDATE logs.builds SET created_at = now() - interval '40 days' WHERE id = $1`, [p40.id]);
      await pg.query(`UPDATE logs.builds SET created_at = now() - interval '20 days' WHERE id = $1`, [p20.id]);
      await expectEventually(
        async () => {
          expect((await count(d1.id)).b).toBe(0);
          expect((await count(p40.id)).b).toBe(0);
        },
        20_000,
        250,
      );
      expect((await count(d2.id)).b).toBe(1);
      expect((await count(p20.id)).b).toBe(1);
      expect((await api.ok<{ status: string }>('GET', `/api/v1/builds/${running}`)).status).toBe('running');
      expect((await count(running)).b).toBe(1);
      // The operators' endpoint runs the same job on demand.
      expect(await api.ok('POST', '/api/v1/admin/retention/run')).toEqual({ buildsDeleted: expect.any(Number), linesDeleted: expect.any(Number) });
      await api.ok('POST', `/api/v1/builds/${running}/cancel`, undefined, [202]);
    } finally {
      await pg.end();
    }
  });
});
