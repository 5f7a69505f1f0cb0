import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, NativeConnection, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { BuildInput, BuildResult, BuildStatusV1 } from '@kiln/contracts';
import { DEFAULT_TAG_RULE } from '@kiln/domain';
import type { BuildActivities, CloneResult } from '../activities/build-activities';

/**
 * The build workflow's own decisions, with fake activities on the suite's Temporal dev server (its real history,
 * timers, signals and cancellation): retries, user failures, cancel, supersede and the rule's timeout. Each test
 * gets task queues of its own. (Temporal's time-skipping test server is a download this machine cannot make, so
 * timers run in real time and the timeouts here are short.)
 */
const TEMPORAL = process.env.KILN_TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const WORKFLOWS = resolve(__dirname, '../../../../dist/apps/build-orchestrator/src/workflows/index.js');

jest.setTimeout(60_000);

type Report = Omit<BuildStatusV1, 'at'>;
type Fakes = Partial<Pick<BuildActivities, 'buildImage' | 'tagImage' | 'pushImage' | 'tagAndPush' | 'exportCache'>>;

let bundle: WorkflowBundleWithSourceMap;
let native: NativeConnection;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS,
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  native = await NativeConnection.connect({ address: TEMPORAL });
  connection = await Connection.connect({ address: TEMPORAL });
  client = new Client({ connection });
});

afterAll(async () => {
  await connection?.close();
  await native?.close();
});

function input(taskQueueTimeoutSeconds = 60): BuildInput {
  const buildId = randomUUID();
  return {
    descriptor: {
      buildId,
      workflowId: `build-spec-${buildId}`,
      ruleId: randomUUID(),
      ruleName: 'spec',
      sourceId: randomUUID(),
      imageRepository: 'spec/app',
      trigger: { kind: 'manual', by: 'spec' },
      ref: 'refs/heads/main',
      refType: 'branch',
      refName: 'main',
      commit: 'a'.repeat(40),
    },
    source: { id: randomUUID(), provider: 'git', cloneUrl: 'http://127.0.0.1:1/spec.git' },
    dockerfilePath: 'Dockerfile',
    contextDir: '.',
    tagRule: DEFAULT_TAG_RULE,
    registry: '127.0.0.1:1',
    timeoutSeconds: taskQueueTimeoutSeconds,
    buildArgs: {},
    secretBuildArgs: [],
  };
}

/** Waits, heartbeating, until the activity is cancelled (then rethrows the cancellation, as real steps do). */
async function runUntilCancelled(seen: string[], name: string): Promise<never> {
  seen.push(`${name}:started`);
  try {
    for (;;) {
      Context.current().heartbeat();
      await Context.current().sleep(50);
    }
  } catch (err) {
    seen.push(`${name}:cancelled`);
    throw err;
  }
}

/** Runs one build workflow with the fake activities on task queues of its own; `during` acts on it while it runs. */
async function runBuild(fakes: Fakes, opts: { input?: BuildInput; during?: (workflowId: string, seen: string[]) => Promise<void> } = {}) {
  const taskQueue = `spec-${randomUUID()}`;
  const workerQueue = `${taskQueue}@worker-1`;
  const build = opts.input ?? input();
  const seen: string[] = [];
  const reports: Report[] = [];
  const activities = {
    reportStatus: async (r: Report) => void reports.push(r),
    cloneRepository: async (): Promise<CloneResult> => {
      seen.push('clone');
      return { workerQueue, workdir: `/tmp/spec-${build.descriptor.buildId}` };
    },
    buildImage: async () => {
      seen.push('build');
      return { imageId: 'sha256:' + '1'.repeat(64) };
    },
    tagImage: async () => {
      seen.push('tag');
      return { repository: '127.0.0.1:1/spec/app', tag: 'main' };
    },
    pushImage: async () => {
      seen.push('push');
      return { digest: 'sha256:' + '2'.repeat(64) };
    },
    // As the real one: the tag step, the push step and the success report, in one activity.
    tagAndPush: async (i: BuildInput, imageId: string): Promise<{ repository: string; tag: string; digest: string }> => {
      const tagged: { repository: string; tag: string } = await activities.tagImage(i, imageId);
      const { digest } = await activities.pushImage(i, tagged.repository, tagged.tag, imageId);
      reports.push({ buildId: i.descriptor.buildId, status: 'succeeded', tags: [`${tagged.repository}:${tagged.tag}`], digest });
      return { ...tagged, digest };
    },
    exportCache: async (_i: BuildInput, _workdir: string, options?: { cleanup?: boolean }) => {
      seen.push(`cache after ${reports.map((r) => r.status).join(',') || 'no report'}${options?.cleanup ? ', then cleanup' : ''}`);
      return { exported: true, cleaned: options?.cleanup === true };
    },
    cleanup: async (buildId: string, workdir: string | null) => void seen.push(`cleanup ${buildId === build.descriptor.buildId} ${workdir}`),
    ...fakes,
  };
  const workers = await Promise.all([
    Worker.create({ connection: native, taskQueue, workflowBundle: bundle, activities: { reportStatus: activities.reportStatus } }),
    Worker.create({ connection: native, taskQueue: `${taskQueue}-clone`, activities: { cloneRepository: activities.cloneRepository } }),
    // Cancellation reaches an activity with its heartbeat's answer: heartbeat often, so that it arrives at once.
    Worker.create({ connection: native, taskQueue: workerQueue, activities, maxHeartbeatThrottleInterval: '100ms', defaultHeartbeatThrottleInterval: '100ms' }),
  ]);
  const run = (async () => {
    const handle = await client.workflow.start('buildAndPush', { taskQueue, workflowId: build.descriptor.workflowId, args: [build] });
    const during = opts.during?.(handle.workflowId, seen);
    const outcome = await handle.result().then(
      (result: BuildResult) => ({ result, error: null }),
      (error: unknown) => ({ result: null, error }),
    );
    await during;
    return outcome;
  })();
  await Promise.all(workers.map((w) => w.runUntil(run)));
  return { ...(await run), seen, reports, build };
}

const until = async (condition: () => boolean, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('the build workflow, with fake activities on a real Temporal server', () => {
  it('runs clone, build, tag and push in order, reports success with the tag and digest, and cleans up', async () => {
    const { result, error, seen, reports, build } = await runBuild({});
    expect(error).toBeNull();
    expect(result).toEqual({ tags: ['127.0.0.1:1/spec/app:main'], digest: 'sha256:' + '2'.repeat(64) });
    expect(seen).toEqual(['clone', 'build', 'tag', 'push', `cleanup true /tmp/spec-${build.descriptor.buildId}`]);
    expect(reports).toEqual([{ buildId: build.descriptor.buildId, status: 'succeeded', tags: result?.tags, digest: result?.digest }]);
  });

  it("exports the rule's layer cache after the build is reported done, and before cleanup", async () => {
    const options: unknown[] = [];
    const { error, seen, reports } = await runBuild(
      {
        buildImage: async (_input, _workdir, opts) => {
          options.push(opts);
          return { imageId: 'sha256:' + '1'.repeat(64) };
        },
      },
      { input: { ...input(), cacheRef: '127.0.0.1:1/spec/app/kiln-cache:rule-1' } },
    );
    expect(error).toBeNull();
    expect(options).toEqual([{ deferCacheExport: true }]);
    // The export's activity removes the clone too: no cleanup activity of its own.
    expect(seen).toEqual(['clone', 'tag', 'push', 'cache after succeeded, then cleanup']);
    expect(reports.map((r) => r.status)).toEqual(['succeeded']);
  });

  it('a failed cache export, tried once, leaves the build succeeded', async () => {
    let attempts = 0;
    const { error, result, seen } = await runBuild(
      {
        exportCache: async () => {
          attempts++;
          throw new Error('registry went away');
        },
      },
      { input: { ...input(), cacheRef: '127.0.0.1:1/spec/app/kiln-cache:rule-1' } },
    );
    expect(error).toBeNull();
    expect(result?.digest).toBe('sha256:' + '2'.repeat(64));
    expect(attempts).toBe(1);
    expect(seen.at(-1)).toMatch(/^cleanup true /);
  });

  it('retries a step that fails for a passing reason, and the build succeeds', async () => {
    let attempts = 0;
    const { error, seen, reports } = await runBuild({
      buildImage: async () => {
        attempts++;
        if (attempts < 3) throw new Error('buildkitd restarting');
        return { imageId: 'sha256:' + '1'.repeat(64) };
      },
    });
    expect(error).toBeNull();
    expect(attempts).toBe(3);
    expect(seen.slice(0, 3)).toEqual(['clone', 'tag', 'push']);
    expect(reports.map((r) => r.status)).toEqual(['succeeded']);
  });

  it('a retried push applies the tag chosen for its first attempt', async () => {
    const times: string[] = [];
    const { error, result } = await runBuild({
      tagAndPush: async (_i, _imageId, tagTime) => {
        times.push(tagTime);
        if (times.length < 2) throw new Error('registry restarting');
        return { repository: '127.0.0.1:1/spec/app', tag: `main-${tagTime}`, digest: 'sha256:' + '2'.repeat(64) };
      },
    });
    expect(error).toBeNull();
    expect(times).toHaveLength(2);
    expect(times[1]).toBe(times[0]);
    expect(Number.isNaN(Date.parse(times[0]))).toBe(false);
    expect(result?.tags).toEqual([`127.0.0.1:1/spec/app:main-${times[0]}`]);
  });

  it('fails at once on a failure the user must fix, says why and what to do, and still cleans up', async () => {
    let attempts = 0;
    const { error, seen, reports } = await runBuild({
      buildImage: async () => {
        attempts++;
        throw ApplicationFailure.create({
          type: 'DockerfileNotFound',
          message: 'no Dockerfile at Dockerfile in the repository',
          nonRetryable: true,
          details: [{ hint: 'add one, or set the rule’s dockerfilePath' }],
        });
      },
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(attempts).toBe(1);
    expect(seen).toEqual(['clone', expect.stringMatching(/^cleanup true /)]);
    expect(reports).toEqual([
      expect.objectContaining({
        status: 'failed',
        failure: { type: 'DockerfileNotFound', message: 'no Dockerfile at Dockerfile in the repository', hint: 'add one, or set the rule’s dockerfilePath' },
      }),
    ]);
  });

  it('stops the running step when the operator cancels, reports the build cancelled, and cleans up', async () => {
    const steps: string[] = [];
    const { error, seen, reports } = await runBuild(
      { buildImage: () => runUntilCancelled(steps, 'build') },
      {
        during: async (workflowId) => {
          await until(() => steps.includes('build:started'));
          await client.workflow.getHandle(workflowId).cancel();
        },
      },
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(steps).toEqual(['build:started', 'build:cancelled']);
    expect(seen).toEqual(['clone', expect.stringMatching(/^cleanup true /)]);
    expect(reports).toEqual([expect.objectContaining({ status: 'cancelled', failure: expect.objectContaining({ type: 'Cancelled', message: 'the build was cancelled' }) })]);
  });

  it('stands down for a newer push while it builds, saying by which build', async () => {
    const steps: string[] = [];
    const { error, reports } = await runBuild(
      { buildImage: () => runUntilCancelled(steps, 'build') },
      {
        during: async (workflowId) => {
          await until(() => steps.includes('build:started'));
          await client.workflow.getHandle(workflowId).signal('supersede', { byBuildId: 'newer-build' });
        },
      },
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(steps).toEqual(['build:started', 'build:cancelled']);
    expect(reports).toEqual([
      expect.objectContaining({ status: 'cancelled', failure: expect.objectContaining({ type: 'Cancelled', message: expect.stringContaining('superseded by build newer-build') }) }),
    ]);
  });

  it('finishes a push that has begun, whatever a newer push asks', async () => {
    let release = false;
    let pushing = false;
    const { error, result, reports } = await runBuild(
      {
        tagAndPush: async () => {
          pushing = true;
          await until(() => release);
          return { repository: '127.0.0.1:1/spec/app', tag: 'main', digest: 'sha256:' + '3'.repeat(64) };
        },
      },
      {
        during: async (workflowId) => {
          await until(() => pushing);
          await client.workflow.getHandle(workflowId).signal('supersede', { byBuildId: 'newer-build' });
          await new Promise((r) => setTimeout(r, 300));
          release = true;
        },
      },
    );
    expect(error).toBeNull();
    expect(result?.digest).toBe('sha256:' + '3'.repeat(64));
    // No cancelled report: the push went on (the fake reports no success of its own; the real step does).
    expect(reports).toEqual([]);
  });

  it("fails as Timeout when the build outlives the rule's timeout, counted from the end of the clone", async () => {
    const steps: string[] = [];
    const started = Date.now();
    const { error, reports } = await runBuild({ buildImage: () => runUntilCancelled(steps, 'build') }, { input: input(1) });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    // The step's own limit is the rule's timeout too, so it may have been retried once before the build gave up.
    expect(steps[0]).toBe('build:started');
    expect(reports).toEqual([
      expect.objectContaining({
        status: 'failed',
        failure: { type: 'Timeout', message: "the build did not finish within the rule's timeout of 1 s", hint: "speed up the build, or raise the rule's timeoutSeconds" },
      }),
    ]);
  });
});
