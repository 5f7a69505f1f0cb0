import { Api } from '../support/api';
import { expectEventually } from '../support/expect-eventually';
import { GitFixture } from '../support/git-fixture';
import type { BuildDetail } from '../support/builds';
import { Scenario } from '../support/scenario';
import { manifestDigest, OwnRegistry, registryTags } from '../support/registry';
import { Stack, startStack } from '../support/stack';

jest.setTimeout(300_000);

/**
 * One stack for both kinds of recovery, pushing to a registry of the file's own (the registry-down tests stop it):
 * a stack boot costs about eight CPU-seconds, so files start as few as their tests need.
 */
describe('build recovery', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const registry = OwnRegistry.create(15055);
  const run = `${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    await registry.start();
    // Builds started by "build now": no webhook-ingest.
    stack = await startStack(18680, { registry: registry.address, apps: ['gateway', 'rules-service', 'log-service', 'build-orchestrator'] });
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
    await registry.stop();
  });

  describe('a worker killed mid-build', () => {
    it('is detected by the heartbeat timeout; the step runs again on a live worker and the tag is pushed once', async () => {
      const s = await Scenario.create(api, git, `acme/crash-${run}`);
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo "step-start ${run}" && sleep 6 && echo step-end\nCMD ["true"]\n` }, 'slow step');
      s.repo.push('refs/heads/main');
      const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/crash/repositories/app-${process.pid}/build-rules`, {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
      });
      const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
      await expectEventually(
        async () => {
          const logs = await api.ok<{ items: Array<{ text: string }> }>('GET', `/api/v1/builds/${started.buildId}/logs?step=build`);
          expect(logs.items.map((l) => l.text)).toContain(`step-start ${run}`);
        },
        60_000,
        100,
      );

      await stack.stopApp('build-orchestrator', 'SIGKILL');
      await stack.startApp('build-orchestrator');

      const b = await expectEventually(
        async () => {
          const d = await api.ok<BuildDetail>('GET', `/api/v1/builds/${started.buildId}`);
          expect(d.status).toBe('succeeded');
          return d;
        },
        120_000,
        250,
      );
      const buildSteps = b.steps.filter((x) => x.name === 'build').map((x) => `${x.attempt}:${x.status}`);
      expect(buildSteps).toEqual(['1:failed', '2:succeeded']);
      const logs = await api.ok<{ items: Array<{ attempt: number; text: string }> }>('GET', `/api/v1/builds/${started.buildId}/logs?step=build&limit=1000`);
      expect(logs.items.filter((l) => l.text === `step-start ${run}`).map((l) => l.attempt)[0]).toBe(1);
      // The second attempt solved the same graph again: BuildKit reused what the killed attempt's still-running buildctl finished (CACHED), or joined it.
      expect(logs.items.some((l) => l.attempt === 2 && /^#\d+ \[(stage-0 )?2\/2\] RUN echo "step-start/.test(l.text))).toBe(true);
      const tags = await registryTags(`crash/app-${process.pid}`, registry.address);
      expect(tags).toEqual([b.tags[0].split(':').pop()]);
    });
  });

  describe('the registry down while the image is pushed', () => {
    async function buildWithRegistryDown(name: string): Promise<{ ruleId: string; buildId: string }> {
      const s = await Scenario.create(api, git, `acme/${name}-${run}`);
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo ${name}-${run} > /built\n` }, name);
      s.repo.push('refs/heads/main');
      const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/down/repositories/${name}/build-rules`, {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
      });
      await registry.stop();
      const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
      // BuildKit pushes the layers and manifest from the build step: its first attempt fails on the stopped registry.
      await expectEventually(
        async () => {
          const b = await api.ok<BuildDetail>('GET', `/api/v1/builds/${started.buildId}`);
          expect(b.steps.filter((x) => x.name === 'build' && x.status === 'failed').length).toBeGreaterThanOrEqual(1);
        },
        60_000,
        100,
      );
      return { ruleId: rule.id, buildId: started.buildId };
    }

    it('retries and succeeds when the registry comes back within the retry window', async () => {
      const { buildId } = await buildWithRegistryDown('back');
      await registry.start();
      const b = await expectEventually(
        async () => {
          const d = await api.ok<BuildDetail>('GET', `/api/v1/builds/${buildId}`);
          expect(d.status).toBe('succeeded');
          return d;
        },
        60_000,
        200,
      );
      expect(b.steps.filter((x) => x.name === 'build').length).toBeGreaterThanOrEqual(2);
      const tag = b.tags[0].split(':').pop() as string;
      expect(await manifestDigest('down/back', tag, registry.address)).toBe(b.digest);
      expect(await registryTags('down/back', registry.address)).toEqual([tag]);
    });

    it('fails with a clear reason when the registry stays down, and nothing is pushed under the tag', async () => {
      const { buildId } = await buildWithRegistryDown('gone');
      const b = await expectEventually(
        async () => {
          const d = await api.ok<BuildDetail>('GET', `/api/v1/builds/${buildId}`);
          expect(d.status).toBe('failed');
          return d;
        },
        90_000,
        250,
      );
      expect(b.failure).toMatchObject({ type: 'RegistryUnavailable', message: expect.stringContaining(registry.address), hint: expect.stringContaining('registry') });
      expect(b.digest).toBeNull();
      await registry.start();
      expect(await registryTags('down/gone', registry.address)).toEqual([]);
    });
  });
});
