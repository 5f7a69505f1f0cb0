import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, sep } from 'node:path';
import { launcher } from '@kiln/platform';
import { transientFailure, userFailure } from '../activities/failures';

/** How this worker reaches its BuildKit daemon. */
export interface BuildkitOptions {
  /** `unix:///…/buildkitd.sock` (or `tcp://host:1234` with mTLS on a separate build host). */
  address: string;
  /** The buildctl binary of the same BuildKit release. */
  buildctl: string;
}

/** One vertex of BuildKit's build graph: a Dockerfile instruction, a context transfer, an image push, … */
export interface Vertex {
  digest: string;
  name: string;
  started?: string;
  completed?: string;
  cached?: boolean;
  error?: string;
}

/** A progress event of `buildctl --progress=rawjson` (BuildKit's SolveStatus). */
export interface SolveStatus {
  vertexes?: Vertex[];
  logs?: Array<{ vertex: string; stream: number; data: string; timestamp?: string }>;
  warnings?: Array<{ vertex: string; short?: string }>;
}

export interface SolveSpec {
  cloneDir: string;
  dockerfilePath: string;
  contextDir: string;
  /** `registry/namespace/repository`; the image is pushed there by digest (the tag is applied afterwards). */
  imageName: string;
  /** The registry speaks plain HTTP (a registry on a private or loopback address). */
  insecureRegistry: boolean;
  /** A docker `config.json` holding the credentials of the registries the build pulls from and pushes to. */
  registryAuth: object;
  buildArgs: Record<string, string>;
  /** Delivered as BuildKit secrets (`RUN --mount=type=secret,id=NAME`): never in the image, its config or history. */
  secrets: Record<string, string>;
  labels: Record<string, string>;
  /** `--target`: the stage to build. */
  target?: string | null;
  /** Platforms to build (one image index); empty: the worker's own. */
  platforms?: string[];
  /** Layer cache in a registry (`host/repository:tag`): imported before the build. */
  cacheRef?: string;
  /** Export the layer cache (mode=max) to `cacheRef` in the same solve, after the push (default true). */
  exportCache?: boolean;
  /** Namespace of the build's `RUN --mount=type=cache` directories (the rule): kept across its builds, apart from others'. */
  cacheNamespace?: string;
  /** Push BuildKit's SLSA provenance attestation (mode=min) with the image. */
  provenance?: boolean;
  signal: AbortSignal;
  deadlineMs: number;
  onStatus: (s: SolveStatus) => void;
}

/** What a cache-only solve needs: the build as the image's solve saw it, without the image's own outputs. */
export type CacheSolveSpec = Omit<SolveSpec, 'imageName' | 'labels' | 'provenance' | 'exportCache' | 'cacheRef'> & { cacheRef: string };

export interface SolveResult {
  /** Digest of what was pushed: the manifest (or index, with attestations or several platforms). */
  digest: string;
}

/** Resolve a path inside the clone, following symlinks; anything that lands outside is refused. */
export async function resolveInside(root: string, rel: string, what: string): Promise<string> {
  const realRoot = await fs.realpath(root);
  const target = join(realRoot, rel);
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch {
    if (what === 'Dockerfile') throw userFailure('DockerfileNotFound', `no Dockerfile at ${rel} in the repository`, `add ${rel} to the repository or change the rule's Dockerfile path`);
    throw userFailure('DockerfileNotFound', `the build context ${rel} does not exist in the repository`, "change the rule's build context");
  }
  if (real !== realRoot && !real.startsWith(realRoot + sep))
    throw userFailure('PathOutsideRepository', `the ${what} ${rel} resolves outside the repository (through a symlink)`, `point the rule's ${what} at a path inside the repository`);
  return real;
}

/**
 * Build with BuildKit's Dockerfile frontend and push the result to the registry by digest. buildctl carries the
 * context (with `.dockerignore` and `<Dockerfile>.dockerignore` applied by the frontend, as `docker build` does), the
 * secrets and the registry credentials over its session; none of them reaches the daemon's disk or a build step's
 * environment unless a step mounts a secret.
 */
export async function solve(bk: BuildkitOptions, s: SolveSpec): Promise<SolveResult> {
  const insecure = s.insecureRegistry ? ',registry.insecure=true' : '';
  const outputs = [
    '--output',
    `type=image,name=${s.imageName},push=true,push-by-digest=true${insecure}`,
    ...Object.entries(s.labels).flatMap(([k, v]) => ['--opt', `label:${k}=${v}`]),
    ...(s.provenance ? ['--opt', 'attest:provenance=mode=min'] : []),
    ...(s.cacheRef ? ['--import-cache', `type=registry,ref=${s.cacheRef}${insecure}`] : []),
    ...(s.cacheRef && s.exportCache !== false ? ['--export-cache', `type=registry,ref=${s.cacheRef},mode=max,ignore-error=true${insecure}`] : []),
  ];
  const { outcome, metadata } = await runSolve(bk, s, outputs);
  const digest = metadata['containerimage.digest'];
  if (outcome.exitCode === 0 && digest) return { digest };
  throw classify(outcome, s.imageName);
}

/**
 * The layer cache of a build that has just pushed its image, exported to the registry (mode=max) by solving the same
 * build again: every step is in BuildKit's local cache, so nothing runs; only the cache's layers and manifest are
 * pushed. Kept apart from the image's solve so that a build is done (its image pushed) without waiting for it.
 */
export async function exportLayerCache(bk: BuildkitOptions, s: CacheSolveSpec): Promise<void> {
  const insecure = s.insecureRegistry ? ',registry.insecure=true' : '';
  const { outcome } = await runSolve(bk, s, ['--export-cache', `type=registry,ref=${s.cacheRef},mode=max${insecure}`]);
  if (outcome.exitCode !== 0) throw classify(outcome, s.cacheRef.replace(/:[^:/]*$/, ''));
}

/** One buildctl solve of the Dockerfile frontend with the build's inputs, plus `outputs` (exports, caches, opts). */
async function runSolve(bk: BuildkitOptions, s: Omit<SolveSpec, 'imageName' | 'labels'>, outputs: string[]): Promise<{ outcome: BuildctlOutcome; metadata: Record<string, string> }> {
  const context = await resolveInside(s.cloneDir, s.contextDir, 'build context');
  const dockerfile = await resolveInside(s.cloneDir, s.dockerfilePath, 'Dockerfile');
  if (!(await fs.stat(dockerfile)).isFile()) throw userFailure('DockerfileNotFound', `${s.dockerfilePath} is not a file`, "change the rule's Dockerfile path");
  // Credentials and secrets live for this one buildctl run, in a folder only this user can read.
  const session = await fs.mkdtemp(join(tmpdir(), 'kiln-bk-'));
  try {
    await fs.chmod(session, 0o700);
    await fs.writeFile(join(session, 'config.json'), JSON.stringify(s.registryAuth), { mode: 0o600 });
    const args = [
      '--addr',
      bk.address,
      'build',
      '--progress=rawjson',
      '--frontend',
      'dockerfile.v0',
      '--local',
      `context=${context}`,
      '--local',
      `dockerfile=${dirname(dockerfile)}`,
      '--opt',
      `filename=${basename(dockerfile)}`,
      '--metadata-file',
      join(session, 'metadata.json'),
      ...outputs,
    ];
    if (s.target) args.push('--opt', `target=${s.target}`);
    if (s.platforms && s.platforms.length > 0) args.push('--opt', `platform=${s.platforms.join(',')}`);
    // RUN --mount=type=cache directories are the rule's own: another repository's Dockerfile cannot read or poison them.
    if (s.cacheNamespace) args.push('--opt', `build-arg:BUILDKIT_CACHE_MOUNT_NS=${s.cacheNamespace}`);
    for (const [k, v] of Object.entries(s.buildArgs)) args.push('--opt', `build-arg:${k}=${v}`);
    let n = 0;
    for (const [id, value] of Object.entries(s.secrets)) {
      const file = join(session, `secret-${n++}`);
      await fs.writeFile(file, value, { mode: 0o600 });
      args.push('--secret', `id=${id},src=${file}`);
    }
    const outcome = await runBuildctl(bk.buildctl, args, { DOCKER_CONFIG: session }, s);
    let metadata: Record<string, string> = {};
    try {
      metadata = JSON.parse(await fs.readFile(join(session, 'metadata.json'), 'utf8')) as Record<string, string>;
    } catch {
      /* no metadata: the build failed */
    }
    return { outcome, metadata };
  } finally {
    await fs.rm(session, { recursive: true, force: true });
  }
}

interface BuildctlOutcome {
  exitCode: number | null;
  /** buildctl's own error lines (`error: …`), and the vertex that failed, if one did. */
  message: string;
  failedVertex: Vertex | null;
}

function runBuildctl(bin: string, args: string[], env: Record<string, string>, s: Pick<SolveSpec, 'signal' | 'deadlineMs' | 'onStatus'>): Promise<BuildctlOutcome> {
  return new Promise((resolvePromise, reject) => {
    const child = launcher.spawn(bin, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
    const vertexes = new Map<string, Vertex>();
    const failed: Vertex[] = [];
    const errorLines: string[] = [];
    let pending = '';
    let settled = false;
    const stop = (reason: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // buildctl ends its session on SIGINT/SIGTERM; BuildKit then cancels the solve and kills the step's processes.
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => clearTimeout(hard));
      reject(reason);
    };
    const timer = setTimeout(() => stop(new BuildDeadlineError(s.deadlineMs)), s.deadlineMs);
    const abort = () => stop(s.signal.reason instanceof Error ? s.signal.reason : new Error('cancelled'));
    if (s.signal.aborted) return abort();
    s.signal.addEventListener('abort', abort, { once: true });
    child.stdout.resume();
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        if (line.startsWith('{')) {
          let status: SolveStatus;
          try {
            status = JSON.parse(line) as SolveStatus;
          } catch {
            errorLines.push(line);
            continue;
          }
          for (const v of status.vertexes ?? []) {
            vertexes.set(v.digest, { ...vertexes.get(v.digest), ...v });
            if (v.error && !/^(context )?canceled/.test(v.error)) failed.push(vertexes.get(v.digest) ?? v);
          }
          try {
            s.onStatus(status);
          } catch (err) {
            stop(err as Error);
          }
        } else errorLines.push(line);
      }
    });
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(transientFailure('BuilderUnavailable', `buildctl could not be run: ${err.message}`, 'check KILN_BUILDCTL on this worker'));
    });
    child.once('close', (code) => {
      s.signal.removeEventListener('abort', abort);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (pending.trim()) errorLines.push(pending.trim());
      const message = errorLines.join('\n');
      // The step that failed the build: the one whose error buildctl ends with (a missing cache to import, say, errs
      // without failing anything).
      const failedVertex = failed.find((v) => message.includes(v.error ?? '\u0000')) ?? failed.find((v) => !/cache importer|importing cache/.test(`${v.name} ${v.error}`)) ?? null;
      resolvePromise({ exitCode: code, message, failedVertex });
    });
  });
}

export class BuildDeadlineError extends Error {
  constructor(ms: number) {
    super(`the build gave no result within ${ms} ms`);
  }
}

const BASE_IMAGE_RE = /failed to resolve source metadata|pull access denied|manifest unknown|not found: not found|failed to do request: .*\/manifests\/|docker\.io\/.*: not found/i;
const AUTH_RE = /401 Unauthorized|unauthorized|authentication required|403 Forbidden|denied: /i;
const DAEMON_RE =
  /connection error|Unavailable desc|failed to dial|connect: no such file or directory|connect: connection refused.*buildkitd|transport is closing|error reading from server|rpc error: code = (Unavailable|Canceled)/i;
const PUSH_RE = /failed to push|pushing|failed to copy|failed to do request: (Head|Put|Post|Patch)/i;

/** Turn buildctl's error into Kiln's failure types: the user's doing (never retried) or a transient fault. */
function classify(o: BuildctlOutcome, imageName: string): Error {
  const message = o.message.replace(/^error: /gm, '').trim() || `buildctl exited with ${o.exitCode}`;
  const step = o.failedVertex?.name.replace(/^\[[^\]]*\]\s*/, '') ?? '';
  const registry = imageName.split('/')[0];
  if (o.failedVertex && /did not complete successfully|exit code: \d+/.test(o.failedVertex.error ?? ''))
    return userFailure('BuildStepFailed', `the step \`${step}\` failed: ${o.failedVertex.error}`, `the step \`${step}\` failed; see the build log, fix the Dockerfile or code and push again`);
  if (DAEMON_RE.test(message) && !o.failedVertex)
    return transientFailure('BuilderUnavailable', `the BuildKit daemon did not answer: ${lastLine(message)}`, 'Kiln retries the build; check buildkitd on this worker if it persists');
  if (AUTH_RE.test(message)) {
    const refused = /(?:https?:\/\/)?([a-z0-9.-]+(?::\d+)?)\/v2\//i.exec(message)?.[1] ?? registry;
    return userFailure(
      'RegistryAuthFailed',
      `the registry ${refused} refused Kiln's credentials: ${lastLine(message)}`,
      `check the credentials Kiln has for ${refused} (PATCH /api/v1/registries/{id}) and that the rule names that registry (pushRegistryId, pullRegistryIds)`,
    );
  }
  if (BASE_IMAGE_RE.test(message) && !message.includes(registry + '/' + imageName.split('/').slice(1).join('/')))
    return userFailure(
      'BaseImageUnavailable',
      `the base image could not be had: ${lastLine(message)}`,
      'make the image in FROM available (push it to a registry the build can reach, with credentials if it is private), or change FROM',
    );
  if (PUSH_RE.test(message) || message.includes(registry))
    return transientFailure('RegistryUnavailable', `the push to ${registry} failed: ${lastLine(message)}`, 'the registry may be down; Kiln retries with backoff');
  if (o.failedVertex)
    return userFailure(
      'BuildStepFailed',
      `${step ? `the step \`${step}\` failed: ` : ''}${lastLine(message)}`,
      step ? `the step \`${step}\` failed; see the build log and fix the Dockerfile` : 'see the build log and fix the Dockerfile',
    );
  if (/dockerfile parse error|failed to solve: .*dockerfile|unknown instruction|failed to parse/i.test(message))
    return userFailure('BuildStepFailed', `the Dockerfile is invalid: ${lastLine(message)}`, 'fix the Dockerfile');
  return transientFailure('BuilderUnavailable', `the build failed: ${lastLine(message)}`, 'Kiln retries; see the build log');
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines[lines.length - 1] ?? text;
}

/** `os/arch[/variant]` of every platform the worker's BuildKit can build, natively or under QEMU emulation. */
export async function workerPlatforms(bk: BuildkitOptions): Promise<string[]> {
  const out = await new Promise<string>((resolvePromise, reject) => {
    const child = launcher.spawn(bk.buildctl, ['--addr', bk.address, 'debug', 'workers', '--format', '{{json .}}']);
    let text = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolvePromise(text) : reject(transientFailure('BuilderUnavailable', `the BuildKit daemon did not answer: ${lastLine(err)}`, 'Kiln retries; check buildkitd on this worker')),
    );
  });
  const workers = JSON.parse(out) as Array<{ platforms?: Array<{ os: string; architecture: string; variant?: string }> }>;
  return [...new Set(workers.flatMap((w) => w.platforms ?? []).map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/')))];
}

/** Requested platforms this worker cannot build: `linux/arm64` is served by any arm64 variant, `linux/arm/v7` only by v7. */
export function missingPlatforms(requested: string[], available: string[]): string[] {
  return requested.filter((r) => !available.some((a) => a === r || (r.split('/').length === 2 && a.startsWith(`${r}/`))));
}
