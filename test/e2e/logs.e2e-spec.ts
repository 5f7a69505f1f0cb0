import { Client } from 'pg';
import { Api } from './support/api';
import { expectEventually } from './support/expect-eventually';
import { GitFixture } from './support/git-fixture';
import { Scenario } from './support/scenario';
import type { LogLineItem as Line } from './support/builds';
import { sharedStack, Stack } from './support/stack';

jest.setTimeout(300_000);

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
    const pg = new Client({ connectionString: stack.databaseAdminUrl });
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
    // A parameter given twice, a parameter that asks nothing, no token or a bad one, an encoded id.
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
