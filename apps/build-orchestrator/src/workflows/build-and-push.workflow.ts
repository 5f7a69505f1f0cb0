import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { BuildFailure, BuildInput, BuildProgress, BuildResult, StepName, SupersedeRequest } from '@kiln/contracts';
import type { BuildActivities } from '../activities/build-activities';
import { USER_FAILURES } from './failure-types';

/** Query name shared with the contracts (`CURRENT_STEP_QUERY`); literal here because workflows import types only. */
export const currentStepQuery = defineQuery<BuildProgress>('currentStep');
/** Signal name shared with the contracts (`SUPERSEDE_SIGNAL`). */
export const supersedeSignal = defineSignal<[SupersedeRequest]>('supersede');

const shared = proxyActivities<BuildActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});

/** The `patched()` id of exporting the layer cache in a step after the push (histories before it export in the build). */
const CACHE_AFTER_PUSH = 'layer-cache-after-push';

/**
 * The `patched()` id of fewer round trips: tag, push and the success report in one activity (`tagAndPush`, its tag
 * time chosen once by the workflow), and the clone removed by the cache export's activity (histories before it run
 * `tagImage`, `pushImage`, `reportStatus` and `cleanup` each on its own).
 */
const FEWER_ROUND_TRIPS = 'tag-push-report-one-activity';

/** How often the build is moved to another worker when the one holding the clone disappears. */
const MAX_PLACEMENTS = 3;

/** Why the build scope was cancelled from inside the workflow (the operator's cancel comes from outside). */
type StopReason = { kind: 'timeout'; seconds: number } | { kind: 'superseded'; by: string };

/**
 * One build: clone → build → tag → push, then the layer cache's export (once the build is reported done), then
 * cleanup (always; by the export's activity when there is one). The clone runs on the clone queue, polled only by
 * workers with a free build slot (until then the build is queued); the steps after clone run on the worker that
 * holds the clone (its own task queue). If that worker dies, the steps time out and the build starts over from
 * clone on a live worker. The rule's timeout (counted from the end of the clone) and a newer push (when the rule asks) stop the build from inside.
 */
export async function buildAndPush(input: BuildInput): Promise<BuildResult> {
  const { buildId } = input.descriptor;
  const timeoutSeconds = input.timeoutSeconds ?? 3600;
  let progress: BuildProgress = { step: 'queued', attempt: 0, startedAt: null };
  setHandler(currentStepQuery, () => progress);
  const enter = (step: StepName | 'done') => {
    progress = { step, attempt: progress.step === step ? progress.attempt + 1 : 1, startedAt: new Date().toISOString() };
  };

  let stop: StopReason | null = null;
  const scope = new CancellationScope();
  setHandler(supersedeSignal, ({ byBuildId }) => {
    // Once the push has begun the build finishes: a half-cancelled push would help nobody.
    if (stop || progress.step === 'push' || progress.step === 'done') return;
    stop = { kind: 'superseded', by: byBuildId };
    scope.cancel();
  });
  // Started once the first clone is done: waiting in the queue does not count, and the clone has its own limit.
  // The timer lives in the root scope; an operator's cancel cancels it too (hence the catch).
  let timerStarted = false;
  const startTimer = () => {
    if (timerStarted) return;
    timerStarted = true;
    sleep(timeoutSeconds * 1000)
      .then(() => {
        if (stop || progress.step === 'done') return;
        stop = { kind: 'timeout', seconds: timeoutSeconds };
        scope.cancel();
      })
      .catch(() => undefined);
  };

  const cloning = proxyActivities<BuildActivities>({
    taskQueue: `${workflowInfo().taskQueue}-clone`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5, nonRetryableErrorTypes: [...USER_FAILURES] },
  });

  // Chosen once, so that a build moved to another worker after its tag was applied applies the same tag again.
  let tagTime: string | null = null;

  try {
    return await scope.run(async () => {
      for (let placement = 1; ; placement++) {
        let workdir: string | null = null;
        let pinned: BuildActivities | null = null;
        let cleaned = false;
        try {
          enter('clone');
          const cloned = await cloning.cloneRepository(input);
          workdir = cloned.workdir;
          startTimer();
          pinned = proxyActivities<BuildActivities>({
            taskQueue: cloned.workerQueue,
            cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            scheduleToStartTimeout: '30 seconds',
            startToCloseTimeout: `${timeoutSeconds} seconds`,
            heartbeatTimeout: '10 seconds',
            retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5, nonRetryableErrorTypes: [...USER_FAILURES] },
          });
          // Builds started by this code export the rule's layer cache after they are done, not before.
          const cacheAfterPush = !!input.cacheRef && patched(CACHE_AFTER_PUSH);
          enter('build');
          const { imageId } = cacheAfterPush ? await pinned.buildImage(input, cloned.workdir, { deferCacheExport: true }) : await pinned.buildImage(input, cloned.workdir);
          const fewerRoundTrips = patched(FEWER_ROUND_TRIPS);
          let pushed: { repository: string; tag: string; digest: string };
          if (fewerRoundTrips) {
            // One activity: once the tag is chosen the push has begun, and a newer push no longer stops the build.
            enter('push');
            tagTime ??= new Date().toISOString();
            pushed = await pinned.tagAndPush(input, imageId, tagTime);
          } else {
            enter('tag');
            const { repository, tag } = await pinned.tagImage(input, imageId);
            enter('push');
            pushed = { repository, tag, ...(await pinned.pushImage(input, repository, tag, imageId)) };
          }
          const { repository, tag, digest } = pushed;
          enter('done');
          const result: BuildResult = { tags: [`${repository}:${tag}`], digest };
          // On the path with fewer round trips, tagAndPush has reported the build succeeded once the tag was applied.
          if (!fewerRoundTrips) await shared.reportStatus({ buildId, status: 'succeeded', tags: result.tags, digest });
          // The image is pushed and the build reported: the cache export no longer holds anyone up. It is best
          // effort (tried once, its failure only logged), and it runs before cleanup, where the clone still is.
          if (cacheAfterPush) {
            const once = proxyActivities<BuildActivities>({
              taskQueue: cloned.workerQueue,
              scheduleToStartTimeout: '30 seconds',
              startToCloseTimeout: `${timeoutSeconds} seconds`,
              heartbeatTimeout: '10 seconds',
              retry: { maximumAttempts: 1 },
            });
            if (fewerRoundTrips) cleaned = (await once.exportCache(input, cloned.workdir, { cleanup: true }).catch(() => null))?.cleaned === true;
            else await once.exportCache(input, cloned.workdir).catch(() => undefined);
          }
          return result;
        } catch (err) {
          if (placement < MAX_PLACEMENTS && workerLost(err) && !isCancellation(err)) continue;
          throw err;
        } finally {
          const dir = workdir;
          const worker = pinned;
          if (dir && worker && !cleaned) await CancellationScope.nonCancellable(() => worker.cleanup(buildId, dir)).catch(() => undefined);
        }
      }
    });
  } catch (err) {
    const reason = stop as StopReason | null;
    const cancelled = isCancellation(err) && reason?.kind !== 'timeout';
    const failure = describeFailure(err, cancelled, reason, workflowInfo().workflowId);
    progress = { ...progress, failure };
    await CancellationScope.nonCancellable(() => shared.reportStatus({ buildId, status: cancelled ? 'cancelled' : 'failed', failure }));
    if (reason?.kind === 'timeout') throw ApplicationFailure.create({ type: 'Timeout', message: failure.message, nonRetryable: true });
    throw err;
  }
}

/** The worker holding the clone stopped answering: its queue timed out before or while running a step. */
function workerLost(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;
}

function describeFailure(err: unknown, cancelled: boolean, reason: StopReason | null, workflowId: string): BuildFailure {
  if (reason?.kind === 'timeout')
    return { type: 'Timeout', message: `the build did not finish within the rule's timeout of ${reason.seconds} s`, hint: "speed up the build, or raise the rule's timeoutSeconds" };
  if (reason?.kind === 'superseded')
    return { type: 'Cancelled', message: `superseded by build ${reason.by}, started by a newer push to the same branch`, hint: 'nothing to do: the newer build carries the change' };
  if (cancelled) return { type: 'Cancelled', message: 'the build was cancelled', hint: 'start the build again when you want it' };
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { hint?: string };
    return { type: cause.type ?? 'Error', message: cause.message, hint: details.hint ?? 'see the build log' };
  }
  if (cause instanceof TimeoutFailure) return { type: 'Timeout', message: `a step timed out (${cause.timeoutType})`, hint: 'see the build log; raise the rule timeout if the build needs longer' };
  return { type: 'InternalError', message: err instanceof Error ? err.message : String(err), hint: `a Kiln bug or outage; operators can inspect workflow ${workflowId}` };
}
