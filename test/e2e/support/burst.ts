import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Api } from './api';
import { startBuildkitd } from './builds';
import { expectEventually } from './expect-eventually';
import { GitFixture } from './git-fixture';
import { BuildItem, Scenario } from './scenario';
import { AppInstance, services, Stack } from './stack';

const EventType = temporal.api.enums.v1.EventType;

/** The activities that run on the queue of the worker holding the clone (`tagAndPush` and `exportCache` since the workflow's fewer round trips). */
export const PINNED_ACTIVITIES = ['buildImage', 'tagAndPush', 'exportCache', 'cleanup'];

/** Where each step of a build ran, as its workflow history says (what an operator sees in Temporal). */
export interface Placement {
  /** The workers whose own queue ran steps after a clone (`<task queue>@<worker id>` → worker id), in order. */
  workers: string[];
  /** For each step, the identity of the worker process that ran its last attempt. */
  ranBy: Record<string, string>;
}

export async function placements(workflowIds: string[]): Promise<Placement[]> {
  const connection = await Connection.connect({ address: services.temporal });
  try {
    const client = new Client({ connection });
    return await Promise.all(
      workflowIds.map(async (id) => {
        const { events } = await client.workflow.getHandle(id).fetchHistory();
        const scheduled = new Map<string, string>();
        const ranBy: Record<string, string> = {};
        const workers = new Set<string>();
        for (const e of events ?? []) {
          const a = e.activityTaskScheduledEventAttributes;
          if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && a) {
            const name = a.activityType?.name ?? '';
            scheduled.set(String(e.eventId), name);
            if (PINNED_ACTIVITIES.includes(name)) workers.add((a.taskQueue?.name ?? '').split('@')[1]);
          }
          const started = e.activityTaskStartedEventAttributes;
          if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED && started) {
            const name = scheduled.get(String(started.scheduledEventId));
            if (name) ranBy[name] = started.identity ?? '';
          }
        }
        return { workers: [...workers], ranBy };
      }),
    );
  } finally {
    await connection.close();
  }
}

export interface Burst {
  repository: string;
  /** When the first webhook was sent (ms, performance clock). */
  sentAt: number;
  builds(): Promise<BuildItem[]>;
}

/**
 * One repository, one rule on any branch, and `count` branches pushed with their webhooks delivered at once. Each
 * build copies its branch's stamp and waits in a step (`sleep`), as builds wait on downloads and tests.
 */
export async function pushBurst(api: Api, git: GitFixture, name: string, count: number, stepSeconds = 1): Promise<Burst> {
  const run = `${process.pid}-${Date.now()}`;
  const s = await Scenario.create(api, git, `acme/${name}-${run}`);
  s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nCOPY stamp /stamp\nRUN cat /stamp && sleep ${stepSeconds}\n`, stamp: 'main\n' }, 'base');
  s.repo.push('refs/heads/main');
  const repository = `scale/${name}-${run}`;
  const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/scale/repositories/${name}-${run}/build-rules`, {
    sourceId: s.source.id,
    repository: s.repo.fullName,
    trigger: { type: 'anyBranch' },
  });
  const pushes: Array<{ before: string; after: string; ref: string }> = [];
  for (let i = 0; i < count; i++) {
    s.repo.checkout('main');
    s.repo.checkout(`b-${i}`, true);
    s.repo.commit({ stamp: `${name} ${run} ${i}\n` }, `branch ${i}`);
    pushes.push({ ...s.repo.push(`refs/heads/b-${i}`), ref: `refs/heads/b-${i}` });
  }
  const sentAt = performance.now();
  await Promise.all(pushes.map((p) => s.deliver(p.ref, p)));
  return { repository, sentAt, builds: () => s.builds(rule.id) };
}

/** Waits until the burst's `count` builds have all succeeded (any failure ends the wait with its reason). */
export function burstSucceeded(burst: Burst, count: number, timeoutMs: number): Promise<BuildItem[]> {
  return expectEventually(
    async () => {
      const items = await burst.builds();
      if (items.length !== count) throw new Error(`${items.length} of ${count} builds so far`);
      const unfinished = items.filter((b) => b.status !== 'succeeded');
      const bad = unfinished.filter((b) => ['failed', 'cancelled'].includes(b.status));
      if (bad.length > 0) throw new Error(`a build ended badly: ${JSON.stringify(bad.map((b) => [b.status, b.failure]))}`);
      if (unfinished.length > 0) throw new Error(`${unfinished.length} builds not done`);
      return items;
    },
    timeoutMs,
    250,
  );
}

/** A second build worker beside the stack's own: its own BuildKit daemon, work and mirror folders, worker id. */
export async function startSecondWorker(stack: Stack, workerId: string): Promise<{ worker: AppInstance; stop(): Promise<void> }> {
  const daemon = await startBuildkitd();
  const worker = await stack.startInstance('build-orchestrator', `build-orchestrator-${workerId}`, {
    KILN_WORKER_ID: workerId,
    KILN_BUILDKIT_ADDR: daemon.address,
    KILN_WORK_DIR: mkdtempSync(join(tmpdir(), 'kiln-e2e-work-b-')),
    KILN_MIRROR_DIR: mkdtempSync(join(tmpdir(), 'kiln-e2e-mirrors-b-')),
  });
  return {
    worker,
    stop: async () => {
      await worker.stop();
      await daemon.stop();
    },
  };
}
