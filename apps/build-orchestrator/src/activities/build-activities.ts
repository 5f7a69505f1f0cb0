import { Context } from '@temporalio/activity';
import type Docker from 'dockerode';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { KilnError, Redactor, renderTag } from '@kiln/domain';
import { BuildInput, BuildStatusV1, SourceCredentials, sourceStatusV1, StepName } from '@kiln/contracts';
import { ApplicationFailure } from '@temporalio/common';
import type { EventBus, HostPolicy, JsonLogger } from '@kiln/platform';
import { buildImage, DockerEvent, pushImage } from '../docker/docker-engine';
import { cloneCommit } from '../git/git-client';
import { publishStatus, StepLog } from './reporter';
import { userFailure } from './failures';

export interface BuildActivityDeps {
  docker: Docker;
  bus: EventBus;
  logger: JsonLogger;
  credentials: (sourceId: string) => Promise<SourceCredentials>;
  /** Values of a rule's secret build arguments (sealed in rules-service, never in workflow history). */
  buildSecrets: (ruleId: string, names: string[]) => Promise<Record<string, string>>;
  /** Internal hosts the operator allows (KILN_GIT_ALLOW_HOSTS); every other internal address is refused. */
  hosts: HostPolicy;
  /** This worker's build capacity: a cloned build holds a slot until cleanup. */
  slots: { hold(buildId: string): void; release(buildId: string): void };
  workDir: string;
  /** This worker's own task queue: the steps after clone are routed here, where the clone lives. */
  workerQueue: string;
}

export interface CloneResult {
  workerQueue: string;
  workdir: string;
}

const HEARTBEAT_MS = 2_000;

/** Activities built from injected clients (Docker, NATS, credentials), so tests can hand in their own. */
export function createBuildActivities(deps: BuildActivityDeps) {
  /** Run one step attempt: report it, heartbeat while it runs, flush its log, report the outcome. */
  async function step<T>(input: BuildInput, name: StepName, body: (log: StepLog, signal: AbortSignal) => Promise<T>): Promise<T> {
    const buildId = input.descriptor.buildId;
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    // Every credential Kiln knows for this build is replaced by *** before a line leaves the worker.
    const creds = await deps.credentials(input.source.id);
    const secrets = await secretArgs(input);
    const log = new StepLog(deps.bus, buildId, name, attempt, new Redactor([creds.secret, ...Object.values(secrets)], [creds.username]));
    await publishStatus(deps.bus, { buildId, step: { name, status: 'running', attempt } });
    const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
    try {
      const result = await body(log, ctx.cancellationSignal);
      await log.flush(true);
      await publishStatus(deps.bus, { buildId, step: { name, status: 'succeeded', attempt } });
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.line(`${name} failed: ${message}`, 'system');
      await log.flush(true).catch(() => undefined);
      const cancelled = ctx.cancellationSignal.aborted;
      await publishStatus(deps.bus, { buildId, step: { name, status: cancelled ? 'cancelled' : 'failed', attempt, message } }).catch(() => undefined);
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  async function secretArgs(input: BuildInput): Promise<Record<string, string>> {
    const names = input.secretBuildArgs ?? [];
    if (names.length === 0) return {};
    try {
      return await deps.buildSecrets(input.descriptor.ruleId, names);
    } catch (err) {
      if (err instanceof KilnError && err.code === 'BuildArgMissing') throw userFailure('BuildArgMissing', err.message, "the rule changed while the build waited; start the build again");
      if (err instanceof KilnError && err.status === 404) throw userFailure('BuildArgMissing', 'the rule was deleted, and its secret build arguments with it', 'create the rule again to build');
      throw err;
    }
  }

  /** A refused clone marks the source unauthorized (durably), so its rules show it and users re-authorize. */
  async function reportAuthFailure<T>(sourceId: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === 'SourceAuthFailed')
        await deps.bus.publish(sourceStatusV1, { sourceId, status: 'unauthorized', reason: err.message, at: new Date().toISOString() });
      throw err;
    }
  }

  return {
    async reportStatus(report: Omit<BuildStatusV1, 'at'>): Promise<void> {
      await publishStatus(deps.bus, report);
    },

    async cloneRepository(input: BuildInput): Promise<CloneResult> {
      const { buildId, commit, ref } = input.descriptor;
      // Polled only with a free build slot: from here the build runs (until now it was queued).
      await publishStatus(deps.bus, { buildId, status: 'running', descriptor: input.descriptor });
      return step(input, 'clone', async (log, signal) => {
        const workdir = join(deps.workDir, buildId);
        await fs.rm(workdir, { recursive: true, force: true });
        await fs.mkdir(workdir, { recursive: true });
        const creds = await deps.credentials(input.source.id);
        log.line(`fetching ${commit} (${ref}) from ${input.source.cloneUrl}`);
        await reportAuthFailure(input.source.id, () => cloneCommit({
          url: input.source.cloneUrl,
          commit,
          ref: ref.startsWith('refs/') ? ref : null,
          dir: workdir,
          credentials: { username: creds.username, secret: creds.secret, sshPrivateKey: creds.sshPrivateKey },
          hosts: deps.hosts,
          submodules: input.submodules ?? false,
          timeoutMs: 10 * 60_000,
          signal,
          onOutput: (text, stream) => log.write(text, stream),
        }));
        log.line(`checked out ${commit}`);
        deps.slots.hold(buildId);
        return { workerQueue: deps.workerQueue, workdir };
      });
    },

    async buildImage(input: BuildInput, workdir: string): Promise<{ imageId: string }> {
      const d = input.descriptor;
      return step(input, 'build', async (log, signal) => {
        log.line(`building ${input.dockerfilePath} with context ${input.contextDir}`);
        const buildArgs = { ...(input.buildArgs ?? {}), ...(await secretArgs(input)) };
        if (Object.keys(buildArgs).length > 0) log.line(`build arguments: ${Object.keys(buildArgs).join(', ')}`);
        const imageId = await buildImage(deps.docker, {
          cloneDir: workdir,
          dockerfilePath: input.dockerfilePath,
          contextDir: input.contextDir,
          // Per-commit labels only: the legacy builder makes each label a step, and per-build values would
          // defeat the layer cache on every build. The build record maps builds to digests.
          labels: {
            'org.opencontainers.image.revision': d.commit,
            'org.opencontainers.image.source': input.source.cloneUrl,
          },
          buildArgs,
          signal,
          deadlineMs: (input.timeoutSeconds ?? 3600) * 1000,
          onEvent: (e) => writeBuildEvent(log, e),
        });
        log.line(`built image ${imageId}`);
        return { imageId };
      });
    },

    /** The tag's time is read here, when the tag is applied. */
    async tagImage(input: BuildInput, imageId: string): Promise<{ repository: string; tag: string }> {
      const d = input.descriptor;
      return step(input, 'tag', async (log) => {
        const tag = renderTag(input.tagRule, { refName: d.refType === 'other' ? d.commit.slice(0, 12) : d.refName, commit: d.commit, time: new Date() });
        const repository = `${input.registry}/${d.imageRepository}`;
        await deps.docker.getImage(imageId).tag({ repo: repository, tag });
        log.line(`tagged ${imageId} as ${repository}:${tag}`);
        return { repository, tag };
      });
    },

    async pushImage(input: BuildInput, repository: string, tag: string, imageId: string): Promise<{ digest: string }> {
      return step(input, 'push', async (log, signal) => {
        // The tag must still name the image this build made; a retried push re-pushes the same image.
        const current = await deps.docker.getImage(`${repository}:${tag}`).inspect().catch(() => null);
        if (!current || current.Id !== imageId) await deps.docker.getImage(imageId).tag({ repo: repository, tag });
        const digest = await pushImage(deps.docker, {
          repository,
          tag,
          registry: input.registry,
          signal,
          deadlineMs: 30 * 60_000,
          onEvent: (e) => writePushEvent(log, e),
        });
        log.line(`pushed ${repository}:${tag} ${digest}`);
        return { digest };
      });
    },

    /** Always runs: removes the clone. Built layers stay in the engine as cache. */
    async cleanup(buildId: string, workdir: string | null): Promise<void> {
      if (workdir && workdir.startsWith(deps.workDir)) await fs.rm(workdir, { recursive: true, force: true });
      deps.slots.release(buildId);
      deps.logger.debug({ msg: 'workspace cleaned', buildId }, 'BuildActivities');
    },
  };
}

export type BuildActivities = ReturnType<typeof createBuildActivities>;

/** The legacy builder wraps a RUN's stderr writes in ANSI red (ESC[91m … ESC[0m). */
// eslint-disable-next-line no-control-regex -- matching the escape sequence is the point
const STDERR_CHUNK = /^\u001b\[91m([\s\S]*?)(?:\u001b\[0m)?$/;

function writeBuildEvent(log: StepLog, e: DockerEvent): void {
  if (e.stream) {
    const stderr = STDERR_CHUNK.exec(e.stream);
    if (stderr) log.write(stderr[1], 'stderr');
    else log.write(e.stream, 'stdout');
  }
  if (e.status) log.write(`${e.id ? `${e.id}: ` : ''}${e.status}\n`, 'stdout');
  if (e.errorDetail?.message || e.error) log.write(`${e.errorDetail?.message ?? e.error}\n`, 'stderr');
}

function writePushEvent(log: StepLog, e: DockerEvent): void {
  if (e.progressDetail !== undefined && e.status === 'Pushing') return;
  writeBuildEvent(log, e);
}

