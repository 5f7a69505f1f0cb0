import { burstSucceeded, PINNED_ACTIVITIES, placements, pushBurst, startSecondWorker } from '../support/burst';
import { expectEventually } from '../support/expect-eventually';
import { onStack } from '../support/on-stack';
import { registryTags } from '../support/registry';
import { Stack, startStack } from '../support/stack';
import type { Api } from '../support/api';
import type { GitFixture } from '../support/git-fixture';

jest.setTimeout(600_000);

const BURST = 20;
/**
 * The kill test's burst: enough that both workers hold builds when one is killed (each runs two at a time) and the
 * other must take over what was queued; its builds cost CPU that the other tests of the suite wait for.
 */
const KILL_BURST = 10;

/**
 * Two build workers, each beside its own BuildKit, take builds from the same queues: a burst of pushes is shared
 * between them, each build stays on the worker that cloned it, and a worker killed mid-burst loses nothing (its
 * builds start over on the other) and pushes no tag twice.
 */
describe('two build workers side by side', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  let second: Awaited<ReturnType<typeof startSecondWorker>> | null = null;
  const workerA = `e2e-${process.pid}`;
  const workerB = `second-${process.pid}`;

  onStack(
    () => startStack(19480),
    (t) => ({ stack, git, api } = t),
  );

  beforeAll(async () => {
    second = await startSecondWorker(stack, workerB);
  });

  afterAll(async () => {
    await second?.stop();
  });

  it(`shares a burst of ${BURST} pushes between the workers, each build on the worker that cloned it`, async () => {
    const burst = await pushBurst(api, git, 'share', BURST);
    const items = await burstSucceeded(burst, BURST, 300_000);
    const placed = await placements(items.map((b) => b.workflowId));
    for (const p of placed) {
      // Every step after the clone went to one worker's own queue, and ran in the process that cloned.
      expect(p.workers).toHaveLength(1);
      expect(Object.keys(p.ranBy)).toEqual(expect.arrayContaining(['cloneRepository', 'buildImage', 'tagAndPush']));
      const ran = ['cloneRepository', ...PINNED_ACTIVITIES].filter((name) => name in p.ranBy).map((name) => p.ranBy[name]);
      expect(new Set(ran).size).toBe(1);
    }
    const onA = placed.filter((p) => p.workers[0] === workerA).length;
    const onB = placed.filter((p) => p.workers[0] === workerB).length;
    expect(onA + onB).toBe(BURST);
    expect(onA / BURST).toBeGreaterThanOrEqual(0.35);
    expect(onA / BURST).toBeLessThanOrEqual(0.65);
    // One tag per push, each the one its build reports.
    expect((await registryTags(burst.repository)).sort()).toEqual(items.map((b) => b.tags[0].split(':').pop()).sort());
  });

  it('loses no build and pushes no tag twice when a worker is killed mid-burst: its builds finish on the other', async () => {
    const burst = await pushBurst(api, git, 'kill', KILL_BURST);
    // Kill the second worker while it holds builds (cloned, not yet finished).
    await expectEventually(
      async () => {
        const running = (await burst.builds()).filter((b) => b.status === 'running');
        const placed = await placements(running.map((b) => b.workflowId));
        expect(placed.filter((p) => p.workers[0] === workerB).length).toBeGreaterThan(0);
      },
      120_000,
      250,
    );
    await second?.worker.stop('SIGKILL');
    const items = await burstSucceeded(burst, KILL_BURST, 420_000);
    const placed = await placements(items.map((b) => b.workflowId));
    // Builds had begun on the killed worker; those it had not finished moved to the live one, and finished there.
    expect(placed.some((p) => p.workers.includes(workerB))).toBe(true);
    const moved = placed.filter((p) => p.workers.length > 1);
    expect(moved.length).toBeGreaterThan(0);
    for (const p of moved) expect(p.workers).toEqual([workerB, workerA]);
    expect((await registryTags(burst.repository)).sort()).toEqual(items.map((b) => b.tags[0].split(':').pop()).sort());
  });
});
