import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleWorkflowCode, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';

/**
 * Histories recorded from the released build workflow (`temporal workflow show -o json`), one per way a build ends:
 * replaying them against the workflow code as it is now fails on any change that is not deterministic for builds
 * already running (a step added, removed or reordered without `patched()`). Record a new one when a release adds
 * a path; never edit one to make this pass.
 *
 * (The JSON form goes through the SDK's protobufjs; `protobufjs` is a direct devDependency so that npm installs the
 * Temporal packages one shared copy of it: with a copy each, reading a JSON history failed with "type must be a Type".)
 */
const HISTORIES = join(__dirname, 'histories');
// The compiled workflows, as the worker bundles them (the test command compiles before it runs).
const WORKFLOWS = resolve(__dirname, '../../../../dist/apps/build-orchestrator/src/workflows/index.js');

describe('the build workflow replays every recorded history of the released code', () => {
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
  // Bundled once for all the histories (given the sources, each replay ran webpack again).
  let bundle: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS });
  }, 60_000);

  it('has a history for each way a build ends', () => {
    expect(files.sort()).toEqual([
      'cancelled.json',
      'failed-dockerfile.json',
      'failed-source-auth.json',
      'succeeded-cache-after-push.json',
      'succeeded-tag-push-report-one-activity.json',
      'succeeded.json',
      'superseded.json',
      'timed-out.json',
    ]);
  });

  it.each(files)(
    'replays %s without a determinism error',
    async (file) => {
      const history = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8'));
      await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, file)).resolves.toBeUndefined();
    },
    60_000,
  );
});
