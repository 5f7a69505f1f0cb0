import { join } from 'node:path';
import { symlinkSync } from 'node:fs';
import { Api } from './support/api';
import { expectEventually } from './support/expect-eventually';
import { GitFixture } from './support/git-fixture';
import type { BuildDetail } from './support/builds';
import { Scenario } from './support/scenario';
import { processesWith } from './support/processes';
import { sharedStack, Stack } from './support/stack';

jest.setTimeout(300_000);

describe('builds that fail, are cancelled, and can be inspected', () => {
  let stack: Stack;
  let git: GitFixture;
  let authGit: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    stack = sharedStack();
    git = await GitFixture.start();
    authGit = await GitFixture.start('x-access-token:good-token');
    api = new Api(stack.gatewayUrl, stack.adminToken);
  });

  afterAll(async () => {
    await git?.stop();
    await authGit?.stop();
    await stack?.stop();
  });

  async function ruleFor(s: Scenario, name: string) {
    return api.ok<{ id: string }>('POST', `/api/v1/namespaces/fail/repositories/${name}/build-rules`, {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
  }

  async function buildNow(ruleId: string): Promise<BuildDetail> {
    const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${ruleId}/builds`, { branch: 'main' });
    return expectEventually(
      async () => {
        const b = await api.ok<BuildDetail>('GET', `/api/v1/builds/${started.buildId}`);
        expect(['succeeded', 'failed', 'cancelled']).toContain(b.status);
        return b;
      },
      120_000,
      200,
    );
  }

  it('fails a RUN that exits 7 after one attempt, as BuildStepFailed, with the output in the log', async () => {
    const s = await Scenario.create(api, git, `acme/exit7-${run}`);
    s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo "about to fail ${run}" && exit 7\n` }, 'exit 7');
    s.repo.push('refs/heads/main');
    const b = await buildNow((await ruleFor(s, 'exit7')).id);
    expect(b.status).toBe('failed');
    expect(b.failure).toMatchObject({ type: 'BuildStepFailed', message: expect.stringContaining('exit code: 7'), hint: expect.stringContaining('exit 7') });
    expect(b.steps.filter((x) => x.name === 'build').map((x) => `${x.attempt}:${x.status}`)).toEqual(['1:failed']);
    const logs = await api.ok<{ items: Array<{ text: string }> }>('GET', `/api/v1/builds/${b.id}/logs?step=build&limit=1000`);
    expect(logs.items.map((l) => l.text)).toContain(`about to fail ${run}`);
    expect(b.tags).toEqual([]);
  });

  it.each([
    ['a missing Dockerfile', 'DockerfileNotFound', (s: Scenario) => s.repo.commit({ 'README.md': 'no Dockerfile here\n' }, 'no dockerfile')],
    [
      'a Dockerfile that is a symlink out of the repository',
      'PathOutsideRepository',
      (s: Scenario) => {
        symlinkSync('/etc/hostname', join(s.repo.work, 'Dockerfile'));
        return s.repo.commit({ 'README.md': 'symlink\n' }, 'symlinked dockerfile');
      },
    ],
  ])('fails %s at once with %s and a hint', async (_t, type, prepare) => {
    const s = await Scenario.create(api, git, `acme/${type.toLowerCase()}-${run}`);
    prepare(s);
    s.repo.push('refs/heads/main');
    const b = await buildNow((await ruleFor(s, type.toLowerCase())).id);
    expect(b).toMatchObject({ status: 'failed', failure: { type, hint: expect.any(String) } });
    expect(b.steps.filter((x) => x.name === 'build')).toHaveLength(1);
  });

  it('fails at once with SourceAuthFailed on wrong credentials, and builds again after re-authorization', async () => {
    const source = await api.ok<{ id: string; webhookUrl: string; webhookSecret: string }>('POST', '/api/v1/sources', {
      provider: 'github',
      name: 'private',
      baseUrl: authGit.baseUrl,
      token: 'wrong-token',
    });
    const repo = authGit.createRepo(`acme/private-${run}`);
    repo.commit({ Dockerfile: 'FROM kiln/busybox:local\nCOPY . /src\n' }, 'private');
    // The fixture's own pushes go through the same authenticated server.
    const { git: runGit } = await import('./support/git-fixture');
    runGit(['-C', repo.work, '-c', `http.extraHeader=Authorization: Basic ${Buffer.from('x-access-token:good-token').toString('base64')}`, 'push', '--quiet', repo.url, 'main:refs/heads/main']);
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/fail/repositories/private/build-rules', {
      sourceId: source.id,
      repository: repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    // Build now by commit (resolving a branch would already be refused by the server).
    const sha = runGit(['-C', repo.work, 'rev-parse', 'HEAD']).trim();
    const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { commit: sha, branch: 'main' });
    const failed = await expectEventually(
      async () => {
        const b = await api.ok<BuildDetail>('GET', `/api/v1/builds/${started.buildId}`);
        expect(b.status).toBe('failed');
        return b;
      },
      60_000,
      200,
    );
    expect(failed.failure).toMatchObject({ type: 'SourceAuthFailed', hint: expect.stringContaining('re-authorize') });
    expect(failed.steps.filter((x) => x.name === 'clone').map((x) => x.attempt)).toEqual([1]);
    expect(JSON.stringify(failed)).not.toContain('wrong-token');

    expect((await api.call('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' })).body).toMatchObject({ code: 'SourceAuthFailed' });

    // The source, and every rule that uses it, show the state; pushes are recorded as failed for that reason.
    await expectEventually(async () => {
      const s = await api.ok<{ status: string; statusReason: string; statusAt: string }>('GET', `/api/v1/sources/${source.id}`);
      expect(s).toMatchObject({ status: 'unauthorized', statusReason: expect.stringContaining('refused'), statusAt: expect.any(String) });
    });
    expect(await api.ok('GET', `/api/v1/build-rules/${rule.id}`)).toMatchObject({ source: { status: 'unauthorized' } });
    const scenario = new Scenario(api, authGit, source, repo);
    const pushedWhileUnauthorized = await scenario.deliver('refs/heads/main', { before: '0'.repeat(40), after: sha });
    const ledger = await expectEventually(async () => {
      const e = await api.ok<{ decisions: Array<{ decision: string; reason: string }> }>('GET', `/api/v1/events/${pushedWhileUnauthorized.eventId}`);
      expect(e.decisions).toHaveLength(1);
      return e;
    });
    expect(ledger.decisions[0]).toMatchObject({ decision: 'source-unauthorized', reason: expect.stringContaining('re-authorize') });

    // Re-authorization clears the state; build now and the next push build again.
    const renewed = await api.ok<{ status: string }>('PATCH', `/api/v1/sources/${source.id}`, { token: 'good-token' });
    expect(renewed.status).toBe('ok');
    expect(await api.ok('GET', `/api/v1/build-rules/${rule.id}`)).toMatchObject({ source: { status: 'ok' } });
    const again = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    await expectEventually(async () => expect((await api.ok<BuildDetail>('GET', `/api/v1/builds/${again.buildId}`)).status).toBe('succeeded'), 120_000, 200);
    const pushedAfter = await scenario.deliver('refs/heads/main', { before: '0'.repeat(40), after: sha });
    await expectEventually(async () => {
      const e = await api.ok<{ decisions: Array<{ decision: string }> }>('GET', `/api/v1/events/${pushedAfter.eventId}`);
      expect(e.decisions.map((d) => d.decision)).toEqual(['build-started']);
    });
  });

  it("never serves a commit from another source's git mirror: each build's own credentials must reach it", async () => {
    const good = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'mirror good', baseUrl: authGit.baseUrl, token: 'good-token' });
    const revoked = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'mirror revoked', baseUrl: authGit.baseUrl, token: 'revoked-token' });
    const repo = authGit.createRepo(`acme/shared-mirror-${run}`);
    repo.commit({ Dockerfile: 'FROM kiln/busybox:local\nCOPY . /src\n' }, 'shared');
    const { git: runGit } = await import('./support/git-fixture');
    runGit(['-C', repo.work, '-c', `http.extraHeader=Authorization: Basic ${Buffer.from('x-access-token:good-token').toString('base64')}`, 'push', '--quiet', repo.url, 'main:refs/heads/main']);
    const sha = runGit(['-C', repo.work, 'rev-parse', 'HEAD']).trim();
    const build = async (sourceId: string, name: string) => {
      const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/fail/repositories/${name}/build-rules`, {
        sourceId,
        repository: repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
      });
      const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { commit: sha, branch: 'main' });
      return expectEventually(
        async () => {
          const b = await api.ok<BuildDetail>('GET', `/api/v1/builds/${started.buildId}`);
          expect(['succeeded', 'failed']).toContain(b.status);
          return b;
        },
        120_000,
        200,
      );
    };
    // The worker's mirror now holds the commit, fetched with the good source's token...
    expect((await build(good.id, 'mirror-good')).status).toBe('succeeded');
    // ...and a source whose token the server refuses still cannot build it.
    expect((await build(revoked.id, 'mirror-revoked')).failure).toMatchObject({ type: 'SourceAuthFailed' });
  });

  it('cancels a running build: the BuildKit step stops, the build is cancelled', async () => {
    const s = await Scenario.create(api, git, `acme/cancel-${run}`);
    // The command after sleep keeps the shell (and the marker in its command line) alive: busybox execs a last command.
    s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo started-${run} && sleep 60 && echo done\n` }, 'slow');
    s.repo.push('refs/heads/main');
    const rule = await ruleFor(s, 'cancel');
    const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    await expectEventually(
      async () => {
        const logs = await api.ok<{ items: Array<{ text: string }> }>('GET', `/api/v1/builds/${started.buildId}/logs?step=build`);
        expect(logs.items.map((l) => l.text)).toContain(`started-${run}`);
      },
      60_000,
      200,
    );
    const runningStep = () => processesWith(`started-${run}`);
    expect(runningStep().length).toBeGreaterThanOrEqual(1);
    const t0 = Date.now();
    expect((await api.call('POST', `/api/v1/builds/${started.buildId}/cancel`)).status).toBe(202);
    const b = await expectEventually(
      async () => {
        const d = await api.ok<BuildDetail>('GET', `/api/v1/builds/${started.buildId}`);
        expect(d.status).toBe('cancelled');
        return d;
      },
      30_000,
      200,
    );
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(b.failure).toMatchObject({ type: 'Cancelled' });
    expect(b.steps.find((x) => x.name === 'build')?.status).toBe('cancelled');
    expect((await api.call('POST', `/api/v1/builds/${started.buildId}/cancel`)).status).toBe(409);
    // BuildKit stopped the step's container: nothing runs the cancelled RUN any more.
    await expectEventually(() => expect(runningStep()).toEqual([]), 20_000, 250);
  });
});
