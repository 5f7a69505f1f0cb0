import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { buildLogSubject, buildLogV1, BuildLogV1, LogLine } from '@kiln/contracts';
import { EventBus, JsonLogger } from '@kiln/platform';
import { Api } from './support/api';
import { expectEventually } from './support/expect-eventually';
import { GitFixture } from './support/git-fixture';
import { Scenario } from './support/scenario';
import { ROOT, sharedStack, Stack, startStack } from './support/stack';

jest.setTimeout(300_000);

interface Line {
  id: string;
  seq: number;
  step: string;
  attempt: number;
  stream: string;
  time: string;
  text: string;
}

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Read server-sent events until `stop` says so or the stream ends. */
async function readSse(url: string, token: string, lastEventId: string | null, stop: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) }, signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: SseEvent[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (block.startsWith(':')) continue;
      const e: SseEvent = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        const [k, ...rest] = line.split(': ');
        const v = rest.join(': ');
        if (k === 'id') e.id = v;
        if (k === 'event') e.event = v;
        if (k === 'data') e.data = v;
      }
      events.push(e);
    }
    if (stop(events)) {
      controller.abort();
      break;
    }
  }
  return events;
}

/** What the database holds of a build: its record (0 or 1), its log lines and its step rows. */
async function storedOf(pg: Client, id: string): Promise<{ b: number; l: number; s: number }> {
  const { rows } = await pg.query(
    'SELECT (SELECT count(*) FROM logs.builds WHERE id = $1)::int AS b, (SELECT count(*) FROM logs.build_log_lines WHERE build_id = $1)::int AS l, (SELECT count(*) FROM logs.build_steps WHERE build_id = $1)::int AS s',
    [id],
  );
  return rows[0] as { b: number; l: number; s: number };
}

describe('build logs: live follow, queries and redaction', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}${Date.now()}`;
  const token = `ghp_kilnE2e${run}Secret`;
  let buildId: string;

  beforeAll(async () => {
    stack = sharedStack();
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
    const source = await api.ok<{ id: string; webhookUrl: string; webhookSecret: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'logs', baseUrl: git.baseUrl, token });
    const repo = git.createRepo(`acme/logs-${run}`);
    const s = new Scenario(api, git, source, repo);
    const half = Math.floor(token.length / 2);
    // A build that leaks the source token three ways, then prints slowly, so it can be followed live.
    const dockerfile = [
      'FROM kiln/busybox:local',
      `RUN echo "plain ${token}" && echo "b64 $(printf '%s' '${token}' | base64)" && printf 'split %s' '${token.slice(0, half)}' && sleep 0.4 && printf '%s\\n' '${token.slice(half)}'`,
      `RUN for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done; echo "ERROR-marker ${run}" >&2`,
      '',
    ].join('\n');
    s.repo.commit({ Dockerfile: dockerfile }, 'noisy build');
    s.repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/logs/repositories/app/build-rules', {
      sourceId: source.id,
      repository: repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    buildId = (await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' })).buildId;
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
  });

  it('follows the log live, resumes after a reconnect without gaps or repeats, and ends with the final status', async () => {
    const url = `${stack.gatewayUrl}/api/v1/builds/${buildId}/logs?follow=true`;
    // First connection: leave while the build is still printing.
    const first = await readSse(url, stack.adminToken, null, (events) => events.some((e) => e.event === 'line' && JSON.parse(e.data).text === 'line 5'));
    const status = (await api.ok<{ status: string }>('GET', `/api/v1/builds/${buildId}`)).status;
    expect(status).toBe('running');
    const lastId = first.filter((e) => e.event === 'line').pop()?.id ?? null;
    expect(lastId).toMatch(/^\d+$/);
    // Reconnect from Last-Event-ID and read to the end.
    const second = await readSse(url, stack.adminToken, lastId, () => false);
    const final = second[second.length - 1];
    expect(final.event).toBe('status');
    expect(JSON.parse(final.data)).toMatchObject({ status: 'succeeded' });

    const followed = [...first, ...second].filter((e) => e.event === 'line').map((e) => JSON.parse(e.data) as Line);
    const all = await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?limit=5000`);
    expect(followed.map((l) => l.id)).toEqual(all.items.map((l) => l.id));
    expect(followed.map((l) => l.text)).toContain('line 40');
  });

  it('never lets the source token reach a reader or the database: plain, base64 and split across chunks', async () => {
    const all = await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?limit=5000`);
    const texts = all.items.map((l) => l.text);
    expect(texts).toContain('plain ***');
    expect(texts).toContain('b64 ***');
    expect(texts).toContain('split ***');
    const b64 = Buffer.from(token).toString('base64');
    expect(JSON.stringify(all)).not.toContain(token);
    expect(JSON.stringify(all)).not.toContain(b64);
    const pg = new Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${stack.database}` });
    await pg.connect();
    try {
      const leaked = await pg.query(`SELECT count(*)::int AS n FROM logs.build_log_lines WHERE text LIKE $1 OR text LIKE $2`, [`%${token}%`, `%${b64}%`]);
      expect(leaked.rows[0].n).toBe(0);
      const sealed = await pg.query(`SELECT count(*)::int AS n FROM rules.code_sources WHERE secret_sealed LIKE $1`, [`%${token}%`]);
      expect(sealed.rows[0].n).toBe(0);
    } finally {
      await pg.end();
    }
  });

  it('answers tail, filters and text downloads', async () => {
    await expectEventually(async () => expect((await api.ok<{ status: string }>('GET', `/api/v1/builds/${buildId}`)).status).toBe('succeeded'), 60_000);
    const all = (await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?limit=5000`)).items;
    const tail = await api.ok<{ items: Line[]; nextCursor: null }>('GET', `/api/v1/builds/${buildId}/logs?tail=5`);
    expect(tail.items.map((l) => l.id)).toEqual(all.slice(-5).map((l) => l.id));

    const stderr = await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?step=build&stream=stderr`);
    expect(stderr.items.map((l) => l.text)).toEqual([`ERROR-marker ${run}`]);
    // Kiln's own notes are the `system` stream.
    const system = await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?step=build&stream=system`);
    expect(system.items.map((l) => l.text)).toContain('building Dockerfile with context . (BuildKit)');
    expect(system.items.every((l) => l.stream === 'system' && l.step === 'build')).toBe(true);
    expect((await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?contains=error-MARKER`)).items.map((l) => l.text)).toEqual([
      expect.stringMatching(/^#\d+ \[3\/3\] RUN for i in/),
      `ERROR-marker ${run}`,
    ]);

    const contains = await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?contains=LINE%203`);
    expect(contains.items.map((l) => l.text)).toEqual(['line 3', 'line 30', 'line 31', 'line 32', 'line 33', 'line 34', 'line 35', 'line 36', 'line 37', 'line 38', 'line 39']);
    const literal = await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?contains=%25`);
    expect(literal.items.every((l) => l.text.includes('%'))).toBe(true);

    expect((await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?attempt=1&step=clone`)).items.length).toBeGreaterThan(0);
    expect((await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?attempt=2`)).items).toEqual([]);

    const page1 = await api.ok<{ items: Line[]; nextCursor: string }>('GET', `/api/v1/builds/${buildId}/logs?limit=10`);
    const page2 = await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?limit=10&cursor=${page1.nextCursor}`);
    expect([...page1.items, ...page2.items].map((l) => l.id)).toEqual(all.slice(0, 20).map((l) => l.id));

    const text = await fetch(`${stack.gatewayUrl}/api/v1/builds/${buildId}/logs?format=text`, { headers: { Authorization: `Bearer ${stack.adminToken}` } });
    expect(text.headers.get('content-type')).toContain('text/plain');
    const body = await text.text();
    expect(body.trim().split('\n')).toHaveLength(all.length);
    expect(body).toContain('build#1 stdout: line 40');

    // Times are ISO-8601 instants in UTC with milliseconds, as everywhere else in the API.
    expect(all.every((l) => new Date(l.time).toISOString() === l.time)).toBe(true);
    expect(all.every((l) => typeof l.seq === 'number' && typeof l.attempt === 'number' && /^\d+$/.test(l.id))).toBe(true);

    for (const bad of ['tail=0', 'stream=video', 'attempt=zero', 'step=deploy', 'limit=ten', 'cursor=abc']) expect((await api.call('GET', `/api/v1/builds/${buildId}/logs?${bad}`)).status).toBe(400);
    const cursorProblem = await api.call<{ code: string; fields: Array<{ field: string }> }>('GET', `/api/v1/builds/${buildId}/logs?cursor=abc`);
    expect(cursorProblem.body.fields.map((f) => f.field)).toEqual(['cursor']);
    const limitProblem = await api.call<{ status: number; code: string; fields: Array<{ field: string }> }>('GET', `/api/v1/builds/${buildId}/logs?limit=ten`);
    expect(limitProblem.body).toMatchObject({ status: 400, fields: [{ field: 'limit' }] });
    // Pages are served ahead of the framework; what that path leaves to the controller is answered as always.
    expect((await api.call('GET', `/api/v1/builds/${buildId}/logs?tail=5&tail=6`)).status).toBe(400);
    expect((await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${buildId}/logs?tail=5&follow=false`)).items).toEqual(tail.items);
    expect((await api.withToken('kiln_not_a_token').call('GET', `/api/v1/builds/${buildId}/logs?tail=5`)).status).toBe(401);
    expect((await fetch(`${stack.gatewayUrl}/api/v1/builds/${buildId}/logs?tail=5`)).status).toBe(401);
    const raw = await fetch(`${stack.gatewayUrl}/api/v1/builds/${encodeURIComponent(buildId)}/logs?tail=5`, { headers: { Authorization: `Bearer ${stack.adminToken}` } });
    expect(raw.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(((await raw.json()) as { items: Line[] }).items).toEqual(tail.items);
    const missing = await api.call<{ status: number; code: string }>('GET', '/api/v1/builds/00000000-0000-4000-8000-000000000000/logs');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: 404, code: 'NotFound' });
    // A token of another namespace is refused the page (log-service checks it in the same query).
    const other = await api.ok<{ token: string }>('POST', '/api/v1/tokens', { name: `other-${run}`, role: 'read', namespaces: ['someone-else'] });
    const refused = await api.withToken(other.token).call<{ code: string }>('GET', `/api/v1/builds/${buildId}/logs?tail=5`);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('Forbidden');
  });
});

describe('log storage: a PostgreSQL restart, searches across builds, retention', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  let source: { id: string; webhookUrl: string; webhookSecret: string };
  const run = `${process.pid}${Date.now()}`;

  beforeAll(async () => {
    // A global policy (30 days) for rules without their own, applied by the scheduled job every 2 s.
    stack = await startStack(19280, { env: { KILN_RETENTION_MAX_AGE_DAYS: '30', KILN_RETENTION_INTERVAL_SECONDS: '2' } });
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
    source = await api.ok('POST', '/api/v1/sources', { provider: 'github', name: 'storage', baseUrl: git.baseUrl, token: 'tok' });
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
    execFileSync('bash', [join(ROOT, 'scripts', 'kiln'), 'postgres'], { stdio: 'ignore' });
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

  async function buildNow(ruleId: string): Promise<{ id: string; status: string }> {
    const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${ruleId}/builds`, { branch: 'main' });
    return expectEventually(
      async () => {
        const b = await api.ok<{ id: string; status: string }>('GET', `/api/v1/builds/${buildId}`);
        expect(['succeeded', 'failed', 'cancelled']).toContain(b.status);
        return b;
      },
      180_000,
      250,
    );
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
    const version = readdirSync('/etc/postgresql').sort().pop() ?? '';
    const bus = await EventBus.connect(stack.natsAdmin, 'logs-pg-restart', new JsonLogger('test', 'error'));
    try {
      const jsm = await bus.nc.jetstreamManager();
      const subject = buildLogSubject(buildId);
      const chunks = async () => (await jsm.streams.info(buildLogV1.stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'stop', '-m', 'fast'], { stdio: 'ignore' });
      // The build's lines keep arriving in JetStream while the database is down: a few chunks of them, then it comes back.
      const atStop = await chunks();
      await expectEventually(async () => expect(await chunks()).toBeGreaterThanOrEqual(atStop + 3), 30_000, 100);
    } finally {
      execFileSync('bash', [join(ROOT, 'scripts', 'kiln'), 'postgres'], { stdio: 'ignore' });
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
    const a = await buildNow(rule.id);
    const t = new Date().toISOString();
    repo.commit({ stamp: 'b' }, 'b'); // a new layer, so the RUN prints again
    repo.push('refs/heads/main');
    const b = await buildNow(rule.id);
    await buildNow(other.id);
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
    const pg = new Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${stack.database}` });
    await pg.connect();
    const bus = await EventBus.connect(stack.natsAdmin, 'logs-spec', new JsonLogger('test', 'error'));
    try {
      const count = (id: string) => storedOf(pg, id);
      const { rule } = await ruleWith('redeliver', 'FROM kiln/busybox:local\nRUN echo redelivered\n');
      const build = await buildNow(rule.id);
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
    const pg = new Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${stack.database}` });
    await pg.connect();
    try {
      const count = (id: string) => storedOf(pg, id);
      const { rule: keep } = await ruleWith('keep2', 'FROM kiln/busybox:local\nRUN echo keep\n', { retention: { keepLast: 2 } });
      const k1 = await buildNow(keep.id);
      // With two builds the rule is within its policy: the job (every 2 s) keeps the first, lines and all.
      expect((await count(k1.id)).l).toBeGreaterThan(0);
      const k2 = await buildNow(keep.id);
      // A run of the policies now (the scheduled job does the same every 2 s): two builds are within keepLast 2.
      await api.ok('POST', '/api/v1/admin/retention/run');
      expect((await count(k1.id)).b).toBe(1);
      const k3 = await buildNow(keep.id);
      await expectEventually(async () => expect(await count(k1.id)).toEqual({ b: 0, l: 0, s: 0 }), 20_000, 250);
      expect((await api.call('GET', `/api/v1/builds/${k1.id}`)).status).toBe(404);
      for (const b of [k2, k3]) expect((await count(b.id)).b).toBe(1);

      const { rule: days } = await ruleWith('days', 'FROM kiln/busybox:local\nRUN echo days\n', { retention: { maxAgeDays: 3 } });
      const d1 = await buildNow(days.id);
      const d2 = await buildNow(days.id);
      // A running build as old as the others: never deleted. (It runs until the test cancels it: builds got faster, and a
      // fixed sleep ended before the policies ran.)
      const { rule: slow } = await ruleWith('slowret', 'FROM kiln/busybox:local\nRUN sleep 300\n', { retention: { maxAgeDays: 3 } });
      const { buildId: running } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${slow.id}/builds`, { branch: 'main' });
      await expectEventually(async () => expect((await api.ok<{ status: string }>('GET', `/api/v1/builds/${running}`)).status).toBe('running'), 30_000, 100);
      // No rule policy: the global 30 days apply.
      const { rule: plain } = await ruleWith('plain', 'FROM kiln/busybox:local\nRUN echo plain\n');
      const p40 = await buildNow(plain.id);
      const p20 = await buildNow(plain.id);
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
