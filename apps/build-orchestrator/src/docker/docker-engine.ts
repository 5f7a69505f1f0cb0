import Docker from 'dockerode';
import { promises as fs } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { pack } from 'tar-fs';
import { transientFailure, userFailure } from '../activities/failures';

/** One decoded line of a Docker Engine progress stream. */
export interface DockerEvent {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
  progressDetail?: { current?: number; total?: number };
}

export interface StreamOptions {
  signal: AbortSignal;
  deadlineMs: number;
  onEvent: (e: DockerEvent) => void;
}

/**
 * Read a progress stream to its end. The engine reports build and push failures as `error` lines inside an
 * HTTP 200 stream, so every line is checked; a stream that breaks, or outlives its deadline, is a failure.
 */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream, o: StreamOptions): Promise<DockerEvent[]> {
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    const finish = (err: Error | null, events?: DockerEvent[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', abort);
      if (err) reject(err);
      else resolvePromise(events ?? []);
    };
    const destroy = (reason: Error) => {
      (stream as NodeJS.ReadableStream & { destroy?: (e?: Error) => void }).destroy?.(reason);
      finish(reason);
    };
    const timer = setTimeout(() => destroy(new StreamDeadlineError(o.deadlineMs)), o.deadlineMs);
    const abort = () => destroy(o.signal.reason instanceof Error ? o.signal.reason : new Error('cancelled'));
    o.signal.addEventListener('abort', abort, { once: true });
    stream.on('error', (err: Error) => finish(err));
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: DockerEvent[]) => finish(err, events),
      (event: DockerEvent) => {
        try {
          o.onEvent(event);
        } catch (err) {
          destroy(err as Error);
        }
      },
    );
  });
}

export class StreamDeadlineError extends Error {
  constructor(ms: number) {
    super(`the Docker Engine stream gave no result within ${ms} ms`);
  }
}

/** Resolve a path inside the clone, following symlinks; anything that lands outside is refused. */
export async function resolveInside(root: string, rel: string, what: string): Promise<string> {
  const realRoot = await fs.realpath(root);
  const target = resolve(realRoot, rel);
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch {
    if (what === 'Dockerfile')
      throw userFailure('DockerfileNotFound', `no Dockerfile at ${rel} in the repository`, `add ${rel} to the repository or change the rule's Dockerfile path`);
    throw userFailure('DockerfileNotFound', `the build context ${rel} does not exist in the repository`, "change the rule's build context");
  }
  if (real !== realRoot && !real.startsWith(realRoot + sep))
    throw userFailure('PathOutsideRepository', `the ${what} ${rel} resolves outside the repository (through a symlink)`, `point the rule's ${what} at a path inside the repository`);
  return real;
}

export interface BuildSpec {
  cloneDir: string;
  dockerfilePath: string;
  contextDir: string;
  labels: Record<string, string>;
  buildArgs?: Record<string, string>;
  signal: AbortSignal;
  deadlineMs: number;
  onEvent: (e: DockerEvent) => void;
}

const BASE_IMAGE_RE = /pull access denied|repository does not exist|manifest unknown|not found: manifest|failed to resolve|no such image|dial tcp|lookup .* no such host|i\/o timeout.*registry|Get "https?:\/\//i;

const ENGINE_FAULT_RE = /failed to update store|libnetwork|daemon is shutting down|context canceled|transport is closing|connection reset by peer|broken pipe|containerd|No such container|error creating overlay mount|failed to (create|start) (shim|task)/i;

async function engineAnswers(docker: Docker): Promise<boolean> {
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('ping timeout')), 3000))]);
    return true;
  } catch {
    return false;
  }
}

/** Build with the legacy builder over the Engine API, host networking, context tarred from the clone. */
export async function buildImage(docker: Docker, b: BuildSpec): Promise<string> {
  const context = await resolveInside(b.cloneDir, b.contextDir, 'build context');
  const dockerfile = await resolveInside(b.cloneDir, b.dockerfilePath, 'Dockerfile');
  if (!(await fs.stat(dockerfile)).isFile())
    throw userFailure('DockerfileNotFound', `${b.dockerfilePath} is not a file`, "change the rule's Dockerfile path");
  const inContext = dockerfile.startsWith(context + sep);
  const dockerfileInTar = inContext ? relative(context, dockerfile).split(sep).join('/') : '.kiln.Dockerfile';
  const outside = inContext ? null : await fs.readFile(dockerfile);
  const tar = pack(context, {
    ignore: (name) => name === resolve(context, '.git') || name.startsWith(resolve(context, '.git') + sep),
    finalize: outside === null,
    finish: outside === null ? undefined : (p) => {
      p.entry({ name: dockerfileInTar, mode: 0o644 }, outside);
      p.finalize();
    },
  });
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, {
      dockerfile: dockerfileInTar,
      networkmode: 'host',
      forcerm: true,
      labels: b.labels,
      buildargs: b.buildArgs ?? {},
    });
  } catch (err) {
    throw transientFailure('DockerUnavailable', `the Docker Engine refused the build: ${(err as Error).message}`, 'Kiln retries; check the engine on this worker if it persists');
  }
  let imageId: string | null = null;
  let failure: string | null = null;
  let lastStep = '';
  await followStream(docker, stream, {
    signal: b.signal,
    deadlineMs: b.deadlineMs,
    onEvent: (e) => {
      b.onEvent(e);
      const step = /^Step \d+\/\d+ : (.*)/.exec(e.stream ?? '');
      if (step) lastStep = step[1].trim();
      if (e.aux?.ID) imageId = e.aux.ID;
      const ok = /^Successfully built ([0-9a-f]+)/.exec(e.stream ?? '');
      if (ok && !imageId) imageId = ok[1];
      if (e.error || e.errorDetail) failure = e.errorDetail?.message ?? e.error ?? 'unknown build error';
    },
  }).catch((err: Error) => {
    if (err instanceof StreamDeadlineError) throw err;
    if (b.signal.aborted) throw err;
    throw transientFailure('DockerStreamBroken', `the build stream broke: ${err.message}`, 'Kiln retries the build');
  });
  if (failure !== null) {
    const message: string = failure;
    // The engine's own faults (it is restarting, its store or network layer broke) are not the user's doing.
    if (ENGINE_FAULT_RE.test(message) || !(await engineAnswers(docker)))
      throw transientFailure('DockerUnavailable', `the Docker Engine failed during the build: ${message}`, 'Kiln retries the build; check the engine on this worker if it persists');
    if (/^(FROM|from) /.test(lastStep) || BASE_IMAGE_RE.test(message))
      throw userFailure('BaseImageUnavailable', `the base image could not be had: ${message}`, `make the image in "${lastStep}" available to the worker's engine, or change FROM`);
    throw userFailure('BuildStepFailed', lastStep ? `the step \`${lastStep}\` failed: ${message}` : `the build failed: ${message}`, lastStep ? `the step \`${lastStep}\` failed; see the build log, fix the Dockerfile or code and push again` : 'see the build log');
  }
  if (!imageId) throw transientFailure('DockerStreamBroken', 'the build stream ended without an image id', 'Kiln retries the build');
  return imageId;
}

export interface PushSpec {
  repository: string;
  tag: string;
  registry: string;
  signal: AbortSignal;
  deadlineMs: number;
  onEvent: (e: DockerEvent) => void;
}

/** Push one tag; resolves with the manifest digest the registry acknowledged. */
export async function pushImage(docker: Docker, p: PushSpec): Promise<string> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker.getImage(p.repository).push({ tag: p.tag, authconfig: { serveraddress: p.registry } })) as NodeJS.ReadableStream;
  } catch (err) {
    throw transientFailure('DockerUnavailable', `the Docker Engine refused the push: ${(err as Error).message}`, 'Kiln retries the push');
  }
  let digest: string | null = null;
  let failure: string | null = null;
  await followStream(docker, stream, {
    signal: p.signal,
    deadlineMs: p.deadlineMs,
    onEvent: (e) => {
      p.onEvent(e);
      if (e.aux?.Digest) digest = e.aux.Digest;
      const d = /digest: (sha256:[0-9a-f]{64})/.exec(e.status ?? '');
      if (d && !digest) digest = d[1];
      if (e.error || e.errorDetail) failure = e.errorDetail?.message ?? e.error ?? 'unknown push error';
    },
  }).catch((err: Error) => {
    if (p.signal.aborted || err instanceof StreamDeadlineError) throw err;
    throw transientFailure('DockerStreamBroken', `the push stream broke: ${err.message}`, 'Kiln retries the push');
  });
  if (failure !== null) {
    const message: string = failure;
    if (/unauthorized|authentication required|denied|forbidden/i.test(message))
      throw userFailure('RegistryAuthFailed', `the registry refused the push: ${message}`, 'check the registry credentials configured for Kiln and the permissions on this repository');
    throw transientFailure('RegistryUnavailable', `the push failed: ${message}`, 'the registry may be down; Kiln retries with backoff');
  }
  if (!digest) throw transientFailure('DockerStreamBroken', 'the push stream ended without a digest', 'Kiln retries the push');
  return digest;
}

