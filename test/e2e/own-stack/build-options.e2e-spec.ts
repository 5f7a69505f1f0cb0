import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Client as PgClient } from 'pg';
import { Api } from '../support/api';
import { expectEventually } from '../support/expect-eventually';
import { BuildDetail, Buildkitd, startBuildkitd } from '../support/builds';
import { GitFixture } from '../support/git-fixture';
import { processesWith } from '../support/processes';
import { pullAndRun, readImage } from '../support/registry';
import { Scenario } from '../support/scenario';
import { services, Stack, startStack } from '../support/stack';

jest.setTimeout(300_000);
interface Line {
  text: string;
  step: string;
  attempt: number;
}

const terminal = ['succeeded', 'failed', 'cancelled'];

function helpers(api: Api) {
  const build = (id: string) => api.ok<BuildDetail>('GET', `/api/v1/builds/${id}`);
  const finished = (id: string, timeoutMs = 120_000) =>
    expectEventually(
      async () => {
        const b = await build(id);
        expect(terminal).toContain(b.status);
        return b;
      },
      timeoutMs,
      200,
    );
  const logs = async (id: string, q = '') => (await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${id}/logs?limit=1000${q}`)).items;
  return { build, finished, logs };
}

/**
 * One stack for the file, with a BuildKit daemon of its own (the crash test kills it; killing the suite's shared
 * daemon would break other files' builds running then) and one build at a time on its worker (the capacity test's
 * second build must wait as queued): a stack boot costs about eight CPU-seconds, so files start as few as they need.
 */
describe('build options', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  let daemon: Buildkitd;
  let h: ReturnType<typeof helpers>;
  const run = `${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    daemon = await startBuildkitd();
    stack = await startStack(19080, { env: { KILN_MAX_CONCURRENT_BUILDS: '1', KILN_BUILDKIT_ADDR: daemon.address } });
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
    h = helpers(api);
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
    await daemon?.stop();
    // Best effort: a root the daemon left mounted stays for the machine's temporary files' cleanup.
    try {
      if (daemon) rmSync(daemon.dir, { recursive: true, force: true });
    } catch {
      // the daemon's root may still be mounted
    }
  });

  describe('per-rule build options and per-worker capacity', () => {
    async function rule(s: Scenario, name: string, extra: Record<string, unknown> = {}) {
      return api.ok<{ id: string; buildArgs: unknown; timeoutSeconds: number }>('POST', `/api/v1/namespaces/opts/repositories/${name}/build-rules`, {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
        ...extra,
      });
    }

    it('keeps builds beyond the worker limit queued, then runs them one after the other', async () => {
      const s = await Scenario.create(api, git, `acme/limit-${run}`);
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo limit-${run} && sleep 3\n` }, 'slow');
      s.repo.push('refs/heads/main');
      const r = await rule(s, 'limit');
      const first = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${r.id}/builds`, { branch: 'main' });
      await expectEventually(async () => expect((await h.build(first.buildId)).status).toBe('running'), 30_000, 100);
      const second = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${r.id}/builds`, { branch: 'main' });
      // While the first runs, the second stays queued: no step of it starts.
      for (let i = 0; i < 10 && (await h.build(first.buildId)).status === 'running'; i++) {
        const b = await h.build(second.buildId);
        expect(b.status).toBe('queued');
        expect(b.steps).toEqual([]);
        await new Promise((r) => setTimeout(r, 200));
      }
      const a = await h.finished(first.buildId);
      const b = await h.finished(second.buildId);
      expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
      // The second started only once the first had finished and freed the slot.
      expect(Date.parse(b.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(a.finishedAt ?? '') - 50);
    });

    it('fails a build that outlives the rule timeout as Timeout, and stops its step', async () => {
      const s = await Scenario.create(api, git, `acme/timeout-${run}`);
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo timeout-${run} && sleep 120 && echo done\n` }, 'too slow');
      s.repo.push('refs/heads/main');
      const r = await rule(s, 'timeout', { timeoutSeconds: 10 });
      expect(r.timeoutSeconds).toBe(10);
      const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${r.id}/builds`, { branch: 'main' });
      const t0 = Date.now();
      const b = await h.finished(started.buildId, 60_000);
      expect(b.status).toBe('failed');
      expect(b.failure).toMatchObject({ type: 'Timeout', message: expect.stringContaining('10 s'), hint: expect.stringContaining('timeoutSeconds') });
      expect(Date.now() - t0).toBeLessThan(40_000);
      await expectEventually(() => expect(processesWith(`timeout-${run}`)).toEqual([]), 20_000, 250);
      // Refused values change nothing.
      expect((await api.call('PATCH', `/api/v1/build-rules/${r.id}`, { timeoutSeconds: 0 })).status).toBe(400);
      expect((await api.ok<{ timeoutSeconds: number }>('GET', `/api/v1/build-rules/${r.id}`)).timeoutSeconds).toBe(10);
    });

    it('passes build arguments; secret ones reach only the steps that mount them, never the image, the log or the database', async () => {
      const secret = `tok_${randomBytes(12).toString('hex')}`;
      const s = await Scenario.create(api, git, `acme/args-${run}`);
      s.repo.commit(
        {
          Dockerfile: [
            'FROM kiln/busybox:local',
            'ARG GREETING',
            // A Dockerfile still declaring the secret as ARG gets nothing there (and a hint in the log).
            'ARG API_TOKEN',
            'RUN echo "greeting=$GREETING" && echo "arg=[$API_TOKEN]"',
            'RUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN echo "token=$API_TOKEN" && printf "%s" "$API_TOKEN" | base64',
            // The secret's two halves on separate writes of one line.
            'RUN --mount=type=secret,id=API_TOKEN printf "half:%s" "$(cut -c1-9 /run/secrets/API_TOKEN)"; sleep 0.3; echo "$(cut -c10- /run/secrets/API_TOKEN)"',
            'RUN --mount=type=secret,id=API_TOKEN sha256sum /run/secrets/API_TOKEN | cut -c1-64 > /token.sha256',
            'RUN echo "$GREETING" > /greeting',
            '',
          ].join('\n'),
        },
        'args',
      );
      s.repo.push('refs/heads/main');
      const r = await rule(s, 'args', {
        buildArgs: [
          { name: 'GREETING', value: `hello-${run}` },
          { name: 'API_TOKEN', value: secret, secret: true },
        ],
      });
      expect(r.buildArgs).toEqual([
        { name: 'GREETING', value: `hello-${run}`, secret: false },
        { name: 'API_TOKEN', secret: true },
      ]);
      // A rename of the plain argument keeps the secret (not sent back: the API never shows it).
      const edited = await api.ok<{ buildArgs: unknown }>('PATCH', `/api/v1/build-rules/${r.id}`, {
        buildArgs: [
          { name: 'GREETING', value: `hi-${run}` },
          { name: 'API_TOKEN', secret: true },
        ],
      });
      expect(edited.buildArgs).toEqual([
        { name: 'GREETING', value: `hi-${run}`, secret: false },
        { name: 'API_TOKEN', secret: true },
      ]);
      // A new secret without a value is refused, and nothing changes.
      const refused = await api.call('PATCH', `/api/v1/build-rules/${r.id}`, { buildArgs: [{ name: 'OTHER', secret: true }] });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('buildArgs.0.value');

      const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${r.id}/builds`, { branch: 'main' });
      const b = await h.finished(started.buildId);
      expect(b.status).toBe('succeeded');
      const text = (await h.logs(b.id, '&step=build')).map((l) => l.text);
      expect(text).toContain(`greeting=hi-${run}`);
      expect(text).toContain('arg=[]');
      expect(text.some((t) => t.includes('API_TOKEN is a secret') && t.includes('--mount=type=secret,id=API_TOKEN'))).toBe(true);
      expect(text).toContain('token=***');
      expect(text).toContain('***');
      expect(text.some((t) => t.startsWith('half:'))).toBe(true);
      const forms = [secret, Buffer.from(secret).toString('base64'), secret.slice(9)];
      const all = JSON.stringify(await h.logs(b.id)) + JSON.stringify(b) + JSON.stringify(await api.ok('GET', `/api/v1/build-rules/${r.id}`));
      for (const form of forms) expect(all).not.toContain(form);

      // The step that mounted the secret saw the right value...
      expect(await pullAndRun(b.tags[0], ['cat', '/greeting'])).toBe(`hi-${run}\n`);
      expect(await pullAndRun(b.tags[0], ['cat', '/token.sha256'])).toBe(`${createHash('sha256').update(secret).digest('hex')}\n`);
      // ...and nothing of it is in the pushed image: its config (labels, env, `docker history --no-trunc`) or any layer.
      const [repository, tag] = [b.tags[0].slice(services.registry.length + 1).split(':')[0], b.tags[0].split(':').pop() as string];
      const image = await readImage(repository, tag);
      expect(
        JSON.parse(image.config)
          .history.map((x: { created_by?: string }) => x.created_by)
          .join('\n'),
      ).toContain('sha256sum /run/secrets/API_TOKEN');
      for (const form of forms) {
        expect(image.config).not.toContain(form);
        for (const layer of image.layers) expect(layer.includes(form)).toBe(false);
      }

      // Nothing in the database holds the secret in clear.
      const pg = new PgClient({ connectionString: stack.databaseAdminUrl });
      await pg.connect();
      try {
        for (const table of ['rules.build_rules', 'logs.build_log_lines', 'logs.builds', 'logs.build_steps']) {
          const rows = await pg.query(`SELECT count(*)::int AS n FROM ${table} t WHERE t::text LIKE $1 OR t::text LIKE $2`, [`%${secret}%`, `%${Buffer.from(secret).toString('base64')}%`]);
          expect({ table, n: rows.rows[0].n }).toEqual({ table, n: 0 });
        }
      } finally {
        await pg.end();
      }
    });

    it('cancels an older build of the branch when a newer push arrives, if the rule asks', async () => {
      const s = await Scenario.create(api, git, `acme/supersede-${run}`);
      const r = await rule(s, 'supersede', { cancelSuperseded: true });
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo old-${run} && sleep 60\n` }, 'old');
      const old = await s.pushAndDeliver('refs/heads/main');
      await expectEventually(
        async () => {
          const b = (await s.builds(r.id)).find((x) => x.commit === old.commit);
          expect(b?.status).toBe('running');
        },
        30_000,
        100,
      );
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo new-${run}\n` }, 'new');
      const next = await s.pushAndDeliver('refs/heads/main');
      const older = await s.finished(r.id, (b) => b.commit === old.commit, 60_000);
      expect(older.status).toBe('cancelled');
      expect(older.failure?.message).toMatch(/superseded by build .* newer push/);
      const newer = await s.finished(r.id, (b) => b.commit === next.commit);
      expect(newer.status).toBe('succeeded');
      expect(older.failure?.message).toContain(newer.id);
    });

    it('lets an older build finish when the rule does not ask to cancel it', async () => {
      const s = await Scenario.create(api, git, `acme/keep-${run}`);
      const r = await rule(s, 'keep');
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo keep-${run} && sleep 2\n` }, 'first');
      const first = await s.pushAndDeliver('refs/heads/main');
      s.repo.commit({ 'x.txt': 'second\n' }, 'second');
      const second = await s.pushAndDeliver('refs/heads/main');
      expect((await s.finished(r.id, (b) => b.commit === first.commit)).status).toBe('succeeded');
      expect((await s.finished(r.id, (b) => b.commit === second.commit)).status).toBe('succeeded');
    });
  });

  describe('BuildKit crashing mid-build', () => {
    it('retries the build step once the daemon is back, and the build completes', async () => {
      const s = await Scenario.create(api, git, `acme/buildkitd-${run}`);
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo engine-${run} && sleep 4\nRUN echo after-${run} > /after\n` }, 'slow');
      s.repo.push('refs/heads/main');
      const r = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/opts/repositories/buildkitd/build-rules', {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
      });
      const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${r.id}/builds`, { branch: 'main' });
      await expectEventually(async () => expect((await h.logs(started.buildId, '&step=build')).map((l) => l.text)).toContain(`engine-${run}`), 60_000, 100);

      // The daemon dies (a graceful stop would let the build finish), then starts again on the same root and socket.
      const pid = daemon.process.pid ?? 0;
      await daemon.stop('SIGKILL');
      expect(alive(pid)).toBe(false);
      daemon = await startBuildkitd(daemon.dir);

      const b = await h.finished(started.buildId, 120_000);
      expect(b.status).toBe('succeeded');
      const attempts = b.steps.filter((x) => x.name === 'build').map((x) => `${x.attempt}:${x.status}`);
      expect(attempts[0]).toBe('1:failed');
      expect(attempts[attempts.length - 1]).toMatch(/^\d+:succeeded$/);
      expect(await pullAndRun(b.tags[0], ['cat', '/after'])).toBe(`after-${run}\n`);
    });
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
