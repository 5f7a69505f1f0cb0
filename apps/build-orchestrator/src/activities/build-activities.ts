import { Context } from '@temporalio/activity';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { KilnError, Redactor, renderTag } from '@kiln/domain';
import { BuildInput, BuildInstruction, BuildStatusV1, RegistryCredentials, SourceCredentials, sourceStatusV1, StepName } from '@kiln/contracts';
import { ApplicationFailure } from '@temporalio/common';
import type { EventBus, HostPolicy, JsonLogger } from '@kiln/platform';
import { BuildkitOptions, CacheSolveSpec, exportLayerCache, missingPlatforms, solve, SolveStatus, Vertex, workerPlatforms } from '../buildkit/buildkit-client';
import { credentialsFor, RegistryClient } from '../registry/registry-client';
import { cloneCommit } from '../git/git-client';
import { checkoutFromMirror, releaseTree } from '../git/git-mirror';
import { publishStatus, StepLog } from './reporter';
import { userFailure } from './failures';
import { CacheExports, waitAtMost } from './cache-exports';

export interface BuildActivityDeps {
  buildkit: BuildkitOptions;
  /** The worker's registry credentials: a docker `config.json` object (`auths` by registry host). */
  registryAuth: () => Promise<{ auths?: Record<string, { auth?: string }> }>;
  /** Registries spoken to over plain HTTP (hosts, or host:port). */
  insecureRegistries: string[];
  /** Credentials of the registries a rule names (sealed in rules-service, never in workflow history). */
  registryCredentials: (ids: string[]) => Promise<RegistryCredentials[]>;
  bus: EventBus;
  logger: JsonLogger;
  credentials: (sourceId: string) => Promise<SourceCredentials>;
  /** Values of a rule's secret build arguments (sealed in rules-service, never in workflow history). */
  buildSecrets: (ruleId: string, names: string[]) => Promise<Record<string, string>>;
  /** Internal hosts the operator allows (KILN_GIT_ALLOW_HOSTS); every other internal address is refused. */
  hosts: HostPolicy;
  /** This worker's build capacity: a cloned build holds a slot until it is done (its cleanup, or its cache export). */
  slots: { hold(buildId: string): void; release(buildId: string): void };
  workDir: string;
  /** One bare mirror per repository, kept across builds, within a budget. */
  mirrorDir: string;
  mirrorBudgetBytes: number;
  /** How long a layer cache export waits for a newer build of its rule, whose export would replace it (none: 0). */
  cacheExportQuietMs?: number;
  /** This worker's own task queue: the steps after clone are routed here, where the clone lives. */
  workerQueue: string;
}

export interface CloneResult {
  workerQueue: string;
  workdir: string;
}

const HEARTBEAT_MS = 2_000;

/** Activities built from injected clients (BuildKit, NATS, credentials), so tests can hand in their own. */
export function createBuildActivities(deps: BuildActivityDeps) {
  const cacheExports = new CacheExports();

  /**
   * What one activity reads from rules-service for its build, read once however many steps it runs (each an RPC):
   * a rotated credential applies from the next activity on.
   */
  function reads(input: BuildInput) {
    let creds: Promise<SourceCredentials> | undefined;
    let secrets: Promise<Record<string, string>> | undefined;
    let registries: Promise<RegistryCredentials[]> | undefined;
    return {
      credentials: () => (creds ??= deps.credentials(input.source.id)),
      secrets: () => (secrets ??= secretArgs(input)),
      registries: () => (registries ??= registryCredentials(input)),
    };
  }
  type Reads = ReturnType<typeof reads>;

  /** Run one step attempt: report it, heartbeat while it runs, flush its log, report the outcome. */
  async function step<T>(input: BuildInput, name: StepName, body: (log: StepLog, signal: AbortSignal) => Promise<T>, read: Reads = reads(input)): Promise<T> {
    const buildId = input.descriptor.buildId;
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    // Every credential Kiln knows for this build is replaced by *** before a line leaves the worker.
    const [creds, secrets, registries] = await Promise.all([read.credentials(), read.secrets(), read.registries()]);
    const log = new StepLog(deps.bus, buildId, name, attempt, new Redactor([creds.secret, ...Object.values(secrets), ...registries.map((r) => r.password)], [creds.username]));
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
      if (err instanceof KilnError && err.code === 'BuildArgMissing') throw userFailure('BuildArgMissing', err.message, 'the rule changed while the build waited; start the build again');
      if (err instanceof KilnError && err.status === 404) throw userFailure('BuildArgMissing', 'the rule was deleted, and its secret build arguments with it', 'create the rule again to build');
      throw err;
    }
  }

  async function registryCredentials(input: BuildInput): Promise<RegistryCredentials[]> {
    const ids = input.registryIds ?? [];
    return ids.length === 0 ? [] : deps.registryCredentials(ids);
  }

  /** The docker config.json BuildKit gets for this build: Kiln's own registry, and the registries the rule names. */
  async function registryAuth(input: BuildInput): Promise<{ auths: Record<string, { auth?: string }> }> {
    const auths = { ...((await deps.registryAuth()).auths ?? {}) };
    for (const r of await registryCredentials(input)) auths[r.host] = { auth: Buffer.from(`${r.username}:${r.password}`).toString('base64') };
    return { auths };
  }

  const insecure = (input: BuildInput) => input.registryInsecure ?? isInsecure(input.registry, deps.insecureRegistries);

  /** What decides the build's layers: the image's solve and the cache's solve must agree on all of it. */
  async function solveInputs(input: BuildInput, workdir: string, secrets: Record<string, string>, signal: AbortSignal) {
    return {
      cloneDir: workdir,
      dockerfilePath: input.dockerfilePath,
      contextDir: input.contextDir,
      insecureRegistry: insecure(input),
      registryAuth: await registryAuth(input),
      buildArgs: input.buildArgs ?? {},
      secrets,
      target: input.target,
      platforms: input.platforms ?? [],
      cacheNamespace: `kiln-rule-${input.descriptor.ruleId}`,
      signal,
      deadlineMs: (input.timeoutSeconds ?? 3600) * 1000,
    };
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

  /** Always runs: gives back or removes the clone. Built layers stay in BuildKit's cache. */
  async function cleanup(buildId: string, workdir: string | null): Promise<void> {
    // A mirror's working tree is handed back (the next build of the repository rewrites only what changed); a clone
    // of the build's own is removed.
    if (!releaseTree(buildId) && workdir && workdir.startsWith(deps.workDir)) await fs.rm(workdir, { recursive: true, force: true });
    cacheExports.settled(buildId);
    deps.slots.release(buildId);
    deps.logger.debug({ msg: 'workspace cleaned', buildId }, 'BuildActivities');
  }

  async function tagImage(input: BuildInput, imageId: string, time: Date, read?: Reads): Promise<{ repository: string; tag: string }> {
    const d = input.descriptor;
    return step(
      input,
      'tag',
      async (log) => {
        const tag = renderTag(input.tagRule, { refName: d.refType === 'other' ? d.commit.slice(0, 12) : d.refName, commit: d.commit, time });
        const repository = `${input.registry}/${d.imageRepository}`;
        log.line(`tag for ${imageId}: ${repository}:${tag}`);
        return { repository, tag };
      },
      read,
    );
  }

  /** Applies the tag to the manifest the build pushed: idempotent, so a retried push changes nothing twice. */
  async function pushImage(input: BuildInput, repository: string, tag: string, imageId: string, read?: Reads): Promise<{ digest: string }> {
    return step(
      input,
      'push',
      async (log, signal) => {
        const registry = input.registry;
        const client = new RegistryClient(registry, insecure(input), credentialsFor(await registryAuth(input), registry));
        const { digest, images } = await client.tag(input.descriptor.imageRepository, imageId, tag, signal);
        for (const image of images) log.line(`  ${image.platform}: ${repository}@${image.digest}`);
        log.line(`pushed ${repository}:${tag} ${digest}`);
        // The record keeps each platform's digest too (the workflow reports the index digest when it succeeds).
        if (images.length > 0) await publishStatus(deps.bus, { buildId: input.descriptor.buildId, images });
        return { digest };
      },
      read,
    );
  }

  return {
    async reportStatus(report: Omit<BuildStatusV1, 'at'>): Promise<void> {
      await publishStatus(deps.bus, report);
    },

    async cloneRepository(input: BuildInput): Promise<CloneResult> {
      const { buildId, commit, ref } = input.descriptor;
      // Polled only with a free build slot: from here the build runs (until now it was queued).
      await publishStatus(deps.bus, { buildId, status: 'running', descriptor: input.descriptor });
      const read = reads(input);
      return step(
        input,
        'clone',
        async (log, signal) => {
          const creds = await read.credentials();
          log.line(`fetching ${commit} (${ref}) from ${input.source.cloneUrl}`);
          const spec = {
            url: input.source.cloneUrl,
            commit,
            ref: ref.startsWith('refs/') ? ref : null,
            dir: join(deps.workDir, buildId),
            credentials: { username: creds.username, secret: creds.secret, sshPrivateKey: creds.sshPrivateKey },
            hosts: deps.hosts,
            submodules: input.submodules ?? false,
            timeoutMs: 10 * 60_000,
            signal,
            onOutput: (text: string, stream: 'stdout' | 'stderr') => log.write(text, stream),
          };
          let workdir = spec.dir;
          if (spec.submodules) {
            // Submodules need a repository of their own: a fresh shallow clone into the build's folder, as before the mirrors.
            await fs.rm(workdir, { recursive: true, force: true });
            await reportAuthFailure(input.source.id, () => cloneCommit(spec));
            // Like BuildKit's own git contexts, the build sees the tree without its .git directory.
            await fs.rm(join(workdir, '.git'), { recursive: true, force: true });
          } else {
            // The worker's mirror of the repository: a new commit fetches only its delta, and is checked out into one
            // of the mirror's working trees, held by this build until its cleanup.
            const mirrored = await reportAuthFailure(input.source.id, () =>
              checkoutFromMirror({
                ...spec,
                buildId,
                sourceId: input.source.id,
                mirrorDir: deps.mirrorDir,
                budgetBytes: deps.mirrorBudgetBytes,
                onNote: (t) => log.line(t),
                buildFiles: { contextDir: input.contextDir, dockerfilePath: input.dockerfilePath },
              }),
            );
            workdir = mirrored.dir;
          }
          log.line(`checked out ${commit}`);
          deps.slots.hold(buildId);
          return { workerQueue: deps.workerQueue, workdir };
        },
        read,
      );
    },

    /**
     * BuildKit builds the image and pushes it to the registry by digest; the tag is applied by the push step. The
     * returned `imageId` is that digest.
     */
    async buildImage(input: BuildInput, workdir: string, options: BuildOptions = {}): Promise<{ imageId: string }> {
      const d = input.descriptor;
      const read = reads(input);
      return step(
        input,
        'build',
        async (log, signal) => {
          log.line(`building ${input.dockerfilePath} with context ${input.contextDir} (BuildKit)`);
          const buildArgs = input.buildArgs ?? {};
          const secrets = await read.secrets();
          if (Object.keys(buildArgs).length > 0) log.line(`build arguments: ${Object.keys(buildArgs).join(', ')}`);
          if (Object.keys(secrets).length > 0) log.line(`secrets (RUN --mount=type=secret,id=NAME): ${Object.keys(secrets).join(', ')}`);
          await warnSecretsUsedAsArgs(log, workdir, input.dockerfilePath, Object.keys(secrets));
          const platforms = input.platforms ?? [];
          if (platforms.length > 0) {
            const missing = missingPlatforms(platforms, await workerPlatforms(deps.buildkit));
            if (missing.length > 0)
              throw userFailure(
                'PlatformUnsupported',
                `this worker cannot build ${missing.join(', ')}: its BuildKit has no emulator for ${missing.length > 1 ? 'them' : 'it'} (QEMU user-mode emulation registered with binfmt_misc)`,
                'install qemu-user-static and binfmt-support on the build workers (scripts/kiln does, with KILN_EMULATION=1), or remove the platform from the rule',
              );
            log.line(`platforms: ${platforms.join(', ')}`);
          }
          if (input.target) log.line(`target stage: ${input.target}`);
          if (input.cacheRef && options.deferCacheExport) log.line(`layer cache: from ${input.cacheRef}; it is updated there once the image is pushed`);
          const registry = input.registry;
          const progress = new ProgressLog(log);
          // The build record shows each instruction as it goes: its list, whenever it changed, at most once a second.
          let reported = '';
          let lastReport = 0;
          const reportInstructions = async (ended: boolean) => {
            const instructions = progress.instructions(ended);
            const json = JSON.stringify(instructions);
            if (json === reported || instructions.length === 0) return;
            reported = json;
            lastReport = Date.now();
            await publishStatus(deps.bus, { buildId: d.buildId, instructions });
          };
          if (input.cacheRef) cacheExports.building(input.cacheRef, d.buildId);
          const owed = input.cacheRef ? cacheExports.owedBefore(input.cacheRef, d.buildId) : null;
          if (owed) {
            log.line("waiting for the rule's previous build to finish exporting its layer cache");
            // At most a minute: a previous build held up in its tag or push step must not hold this one.
            await waitAtMost(owed, 60_000, signal);
          }
          const { digest } = await solve(deps.buildkit, {
            ...(await solveInputs(input, workdir, secrets, signal)),
            imageName: `${registry}/${d.imageRepository}`,
            // Labels are image config only: per-build values do not defeat BuildKit's layer cache.
            labels: {
              'org.opencontainers.image.revision': d.commit,
              'org.opencontainers.image.source': input.source.cloneUrl,
              'org.opencontainers.image.created': new Date().toISOString(),
            },
            cacheRef: input.cacheRef,
            exportCache: !options.deferCacheExport,
            provenance: true,
            onStatus: (st) => {
              progress.write(st);
              if (Date.now() - lastReport >= 1000) void reportInstructions(false).catch(() => undefined);
            },
          }).finally(() => reportInstructions(true).catch(() => undefined));
          if (input.cacheRef && options.deferCacheExport) cacheExports.owe(input.cacheRef, d.buildId);
          log.line(`pushed ${registry}/${d.imageRepository}@${digest}`);
          return { imageId: digest };
        },
        read,
      );
    },

    /**
     * The rule's layer cache, exported to the registry after the build has pushed its image and been reported done:
     * the same solve again, which BuildKit answers from its local cache. Best effort: the image is already pushed, so
     * a failure here is the worker's log line and the next build's slower start, never a failed build.
     */
    async exportCache(input: BuildInput, workdir: string, options: { cleanup?: boolean } = {}): Promise<{ exported: boolean; cleaned?: boolean }> {
      const buildId = input.descriptor.buildId;
      const cacheRef = input.cacheRef;
      // The build is done: its slot goes to the next build now, not after the export (which only pushes to the registry).
      deps.slots.release(buildId);
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
      let exported = false;
      try {
        if (cacheRef) await cacheExports.quietPeriod(cacheRef, buildId, deps.cacheExportQuietMs ?? 0, ctx.cancellationSignal);
        ctx.cancellationSignal.throwIfAborted();
        if (cacheRef && !cacheExports.worthExporting(cacheRef, buildId))
          deps.logger.log({ msg: 'layer cache export skipped: a newer build of the rule exports it', buildId, cacheRef }, 'BuildActivities');
        else if (cacheRef) {
          const started = Date.now();
          const spec: CacheSolveSpec = { ...(await solveInputs(input, workdir, await secretArgs(input), ctx.cancellationSignal)), cacheRef, onStatus: () => undefined };
          await exportLayerCache(deps.buildkit, spec);
          deps.logger.log({ msg: 'layer cache exported', buildId, cacheRef, ms: Date.now() - started }, 'BuildActivities');
          exported = true;
        }
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw err;
        deps.logger.warn({ msg: 'layer cache not exported', buildId, cacheRef, err: err instanceof Error ? err.message : String(err) }, 'BuildActivities');
      } finally {
        clearInterval(beat);
        cacheExports.settled(buildId);
      }
      // Asked by the workflow (one round trip less): the clone is removed here, whatever the export did.
      if (!options.cleanup) return { exported };
      await cleanup(buildId, workdir);
      return { exported, cleaned: true };
    },

    /** The tag's time is read here, when the tag is chosen. */
    tagImage: (input: BuildInput, imageId: string) => tagImage(input, imageId, new Date()),

    pushImage,

    /**
     * Tag, push and report the build succeeded in one activity (one Temporal round trip instead of three), the tag and
     * the push each still a step of its own in the build's record. The tag's time comes from the workflow, so a retried
     * attempt applies the same tag again (and reports the same success again, which the record takes once).
     */
    async tagAndPush(input: BuildInput, imageId: string, tagTime: string): Promise<{ repository: string; tag: string; digest: string }> {
      const read = reads(input);
      const { repository, tag } = await tagImage(input, imageId, new Date(tagTime), read);
      const { digest } = await pushImage(input, repository, tag, imageId, read);
      await publishStatus(deps.bus, { buildId: input.descriptor.buildId, status: 'succeeded', tags: [`${repository}:${tag}`], digest });
      return { repository, tag, digest };
    },

    cleanup,
  };
}

export type BuildActivities = ReturnType<typeof createBuildActivities>;

export interface BuildOptions {
  /** The workflow exports the layer cache in a step of its own after the push (`exportCache`). */
  deferCacheExport?: boolean;
}

/** A Dockerfile instruction's vertex: `[2/3] RUN make`, `[build 1/4] FROM …` (not context loads or exports). */
const INSTRUCTION_RE = /^\[[^\]]*\b\d+\/\d+\] /;

/** BuildKit's progress as log lines, numbered per vertex like `docker buildx build --progress=plain`. */
class ProgressLog {
  private readonly seen = new Map<string, { n: number; vertex: Vertex; named: boolean }>();

  constructor(private readonly log: StepLog) {}

  /**
   * The Dockerfile's instructions (BuildKit names them `[stage n/m] INSTRUCTION`), as they stand. Once the solve has
   * ended (`ended`), an instruction still marked running was stopped with it.
   */
  instructions(ended = false): BuildInstruction[] {
    const out: BuildInstruction[] = [];
    for (const { n, vertex: v } of this.seen.values()) {
      if (!v.name || !INSTRUCTION_RE.test(v.name)) continue;
      const started = v.started ? new Date(v.started).toISOString() : null;
      const finished = v.completed ? new Date(v.completed).toISOString() : null;
      const status: BuildInstruction['status'] = v.cached
        ? 'cached'
        : v.error
          ? /^(context )?canceled/.test(v.error)
            ? 'cancelled'
            : 'failed'
          : finished
            ? 'succeeded'
            : started
              ? ended
                ? 'cancelled'
                : 'running'
              : 'pending';
      out.push({ vertex: n, name: v.name, status, startedAt: started, finishedAt: finished, durationMs: started && finished && !v.cached ? Date.parse(finished) - Date.parse(started) : null });
    }
    return out.sort((a, b) => a.vertex - b.vertex);
  }

  write(status: SolveStatus): void {
    for (const v of status.vertexes ?? []) {
      let known = this.seen.get(v.digest);
      if (!known) {
        known = { n: this.seen.size + 1, vertex: {} as Vertex, named: false };
        this.seen.set(v.digest, known);
      }
      const before = known.vertex;
      known.vertex = { ...before, ...v };
      if ((v.started || v.cached) && !known.named) {
        known.named = true;
        this.log.line(`#${known.n} ${v.name}`);
      }
      if (v.cached && !before.cached) this.log.line(`#${known.n} CACHED`);
      if (v.error && !before.error)
        this.log.line(/^importing cache manifest/.test(v.name) && /not found/.test(v.error) ? `#${known.n} no layer cache in the registry yet: this build makes it` : `#${known.n} ERROR: ${v.error}`);
      else if (v.completed && !before.completed && !v.cached && v.started) {
        const secs = (Date.parse(v.completed) - Date.parse(v.started)) / 1000;
        this.log.line(`#${known.n} DONE ${secs.toFixed(1)}s`);
      }
    }
    for (const l of status.logs ?? []) this.log.write(Buffer.from(l.data, 'base64').toString('utf8'), l.stream === 2 ? 'stderr' : 'stdout');
    for (const w of status.warnings ?? []) if (w.short) this.log.line(`WARNING: ${Buffer.from(w.short, 'base64').toString('utf8')}`);
  }
}

/** A registry is spoken to over plain HTTP when its host, or host:port, is listed. */
function isInsecure(registry: string, insecure: string[]): boolean {
  const host = registry.replace(/:\d+$/, '');
  return insecure.includes(registry) || insecure.includes(host);
}

/** Secret values are secret mounts now: a Dockerfile still reading one as `ARG` gets nothing, so say how to read it. */
async function warnSecretsUsedAsArgs(log: StepLog, workdir: string, dockerfilePath: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const text = await fs.readFile(join(workdir, dockerfilePath), 'utf8').catch(() => '');
  for (const name of names)
    if (new RegExp(`^\\s*ARG\\s+${name}\\b`, 'mi').test(text))
      log.line(`${name} is a secret: it is not a build argument. Read it with RUN --mount=type=secret,id=${name},env=${name} … (or from /run/secrets/${name})`);
}
