import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { BuildFailure, BuildInput, BuildProgress, BuildResult, StepName } from '@kiln/contracts';
import type { BuildActivities } from '../activities/build-activities';
import { USER_FAILURES } from './failure-types';

/** Query name shared with the contracts (`CURRENT_STEP_QUERY`); literal here because workflows import types only. */
export const currentStepQuery = defineQuery<BuildProgress>('currentStep');


const shared = proxyActivities<BuildActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});

// Cancelling waits until the step has really stopped (docker build aborted, step reported) before the build
// is reported cancelled; the heartbeat timeout bounds that wait.
const cloning = proxyActivities<BuildActivities>({
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5, nonRetryableErrorTypes: [...USER_FAILURES] },
});

/** How often the build is moved to another worker when the one holding the clone disappears. */
const MAX_PLACEMENTS = 3;

/**
 * One build: clone → build → tag → push, then cleanup (always). The steps after clone run on the worker that
 * holds the clone (its own task queue). If that worker dies, the steps time out and the build starts over from
 * clone on a live worker.
 */
export async function buildAndPush(input: BuildInput): Promise<BuildResult> {
  const { buildId } = input.descriptor;
  let progress: BuildProgress = { step: 'queued', attempt: 0, startedAt: null };
  setHandler(currentStepQuery, () => progress);
  const enter = (step: StepName | 'done') => {
    progress = { step, attempt: progress.step === step ? progress.attempt + 1 : 1, startedAt: new Date().toISOString() };
  };

  await shared.reportStatus({ buildId, status: 'running', descriptor: input.descriptor });
  try {
    for (let placement = 1; ; placement++) {
      let workdir: string | null = null;
      let pinned: BuildActivities | null = null;
      try {
        enter('clone');
        const cloned = await cloning.cloneRepository(input);
        workdir = cloned.workdir;
        pinned = proxyActivities<BuildActivities>({
          taskQueue: cloned.workerQueue,
          cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
          scheduleToStartTimeout: '30 seconds',
          startToCloseTimeout: '60 minutes',
          heartbeatTimeout: '10 seconds',
          retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5, nonRetryableErrorTypes: [...USER_FAILURES] },
        });
        enter('build');
        const { imageId } = await pinned.buildImage(input, cloned.workdir);
        enter('tag');
        const { repository, tag } = await pinned.tagImage(input, imageId);
        enter('push');
        const { digest } = await pinned.pushImage(input, repository, tag, imageId);
        enter('done');
        const result: BuildResult = { tags: [`${repository}:${tag}`], digest };
        await shared.reportStatus({ buildId, status: 'succeeded', tags: result.tags, digest });
        return result;
      } catch (err) {
        if (placement < MAX_PLACEMENTS && workerLost(err)) continue;
        throw err;
      } finally {
        const dir = workdir;
        const worker = pinned;
        if (dir && worker) await CancellationScope.nonCancellable(() => worker.cleanup(buildId, dir)).catch(() => undefined);
      }
    }
  } catch (err) {
    const cancelled = isCancellation(err);
    const failure = describeFailure(err, cancelled, workflowInfo().workflowId);
    progress = { ...progress, failure };
    await CancellationScope.nonCancellable(() => shared.reportStatus({ buildId, status: cancelled ? 'cancelled' : 'failed', failure }));
    throw err;
  }
}

/** The worker holding the clone stopped answering: its queue timed out before or while running a step. */
function workerLost(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;
}

function describeFailure(err: unknown, cancelled: boolean, workflowId: string): BuildFailure {
  if (cancelled) return { type: 'Cancelled', message: 'the build was cancelled', hint: 'start the build again when you want it' };
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { hint?: string };
    return { type: cause.type ?? 'Error', message: cause.message, hint: details.hint ?? 'see the build log' };
  }
  if (cause instanceof TimeoutFailure) return { type: 'Timeout', message: `a step timed out (${cause.timeoutType})`, hint: 'see the build log; raise the rule timeout if the build needs longer' };
  return { type: 'InternalError', message: err instanceof Error ? err.message : String(err), hint: `a Kiln bug or outage; operators can inspect workflow ${workflowId}` };
}
