import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type Docker from 'dockerode';
import { services } from './stack';

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** Kiln's own registry credentials, as `scripts/kiln` wrote them (user, password). */
export function kilnRegistryCredentials(): { username: string; password: string } {
  const config = JSON.parse(readFileSync(services.registryAuthFile, 'utf8')) as { auths: Record<string, { auth: string }> };
  const plain = Buffer.from(config.auths[services.registry].auth, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  return { username: plain.slice(0, i), password: plain.slice(i + 1) };
}

function authHeader(registry: string): Record<string, string> {
  if (registry !== services.registry) return {};
  const c = kilnRegistryCredentials();
  return { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` };
}

/** A GET or HEAD on the registry's API with Kiln's credentials (for Kiln's registry). */
export function registryFetch(path: string, init: RequestInit = {}, registry = services.registry): Promise<Response> {
  return fetch(`http://${registry}${path}`, { ...init, headers: { Accept: MANIFEST_TYPES, ...authHeader(registry), ...(init.headers as Record<string, string>) } });
}

/** The registry's answer for a tag: its digest, or null when it does not serve the tag. */
export async function manifestDigest(repository: string, tag: string, registry = services.registry): Promise<string | null> {
  const res = await registryFetch(`/v2/${repository}/manifests/${tag}`, { method: 'HEAD' }, registry);
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

export async function registryTags(repository: string, registry = services.registry): Promise<string[]> {
  const res = await registryFetch(`/v2/${repository}/tags/list`, {}, registry);
  if (res.status === 404) return [];
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

interface Descriptor {
  mediaType: string;
  digest: string;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}
export interface ImageManifest {
  config: Descriptor;
  layers: Descriptor[];
}
export interface ImageIndex {
  manifests: Descriptor[];
}

async function json<T>(res: Response, what: string): Promise<T> {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A manifest or index by tag or digest. */
export async function readManifest(repository: string, reference: string, registry = services.registry): Promise<ImageManifest | ImageIndex> {
  return json(await registryFetch(`/v2/${repository}/manifests/${reference}`, {}, registry), `manifest ${repository}:${reference}`);
}

export async function readBlob(repository: string, digest: string, registry = services.registry): Promise<Buffer> {
  const res = await registryFetch(`/v2/${repository}/blobs/${digest}`, {}, registry);
  if (res.status !== 200) throw new Error(`blob ${digest}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** One platform's image of a tag as the registry serves it: manifest, config JSON and every layer, uncompressed. */
export async function readImage(repository: string, reference: string, registry = services.registry, architecture = 'amd64'): Promise<{ manifest: ImageManifest; config: string; layers: Buffer[] }> {
  let manifest = await readManifest(repository, reference, registry);
  if ('manifests' in manifest) {
    const image = manifest.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === architecture);
    if (!image) throw new Error(`no linux/${architecture} image in ${repository}:${reference}`);
    manifest = (await readManifest(repository, image.digest, registry)) as ImageManifest;
  }
  const m = manifest as ImageManifest;
  const config = (await readBlob(repository, m.config.digest, registry)).toString('utf8');
  const layers: Buffer[] = [];
  for (const l of m.layers) {
    const blob = await readBlob(repository, l.digest, registry);
    layers.push(l.mediaType.endsWith('gzip') ? gunzipSync(blob) : blob);
  }
  return { manifest: m, config, layers };
}

/** The Docker Engine's client, loaded when first used: most files that import this module never run a container. */
export async function docker(): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  return new Dockerode({ socketPath: services.dockerSocket });
}

/** Pull a reference from the registry (dropping any local copy first) and run a command in it, without a network. */
export async function pullAndRun(reference: string, cmd: string[]): Promise<string> {
  const d = await docker();
  await d
    .getImage(reference)
    .remove({ noprune: true })
    .catch(() => undefined);
  const c = kilnRegistryCredentials();
  const stream = await d.pull(reference, { authconfig: { username: c.username, password: c.password, serveraddress: services.registry } });
  await new Promise<void>((resolve, reject) =>
    d.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
      const failed = events?.find((e) => e.error);
      if (err || failed) reject(err ?? new Error(failed?.error));
      else resolve();
    }),
  );
  const container = await d.createContainer({ Image: reference, Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
  try {
    await container.start();
    await container.wait();
    const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer;
    return demux(logs);
  } finally {
    await container.remove({ force: true });
  }
}

/** Docker's multiplexed log format: 8-byte headers before each frame. */
function demux(buf: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

/**
 * A registry of the test's own (Debian's docker-registry), which the test may stop and start. It listens on the
 * host's build-network address, on a port the suite opens to builds (15050–15099), so BuildKit can push to it;
 * with `htpasswd` it requires those credentials.
 */
export class OwnRegistry {
  private child: ChildProcess | null = null;
  private constructor(
    readonly address: string,
    private readonly config: string,
    readonly credentials: { username: string; password: string } | null,
  ) {}

  static create(port: number, credentials: { username: string; password: string } | null = null): OwnRegistry {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-registry-'));
    const config = join(dir, 'config.yml');
    let auth = '';
    if (credentials) {
      writeFileSync(join(dir, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', '-C', '4', credentials.username, credentials.password]));
      auth = `auth:\n  htpasswd: { realm: test, path: ${dir}/htpasswd }\n`;
    }
    const address = `${services.buildHost}:${port}`;
    writeFileSync(config, `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${dir}/data }\n  delete: { enabled: true }\n${auth}http: { addr: ${address} }\n`);
    return new OwnRegistry(address, config, credentials);
  }

  async start(): Promise<void> {
    // A registry left on the port (by a run that was killed) would answer for this one: a test stopping it would not.
    if (
      await fetch(`http://${this.address}/v2/`).then(
        () => true,
        () => false,
      )
    )
      throw new Error(`${this.address} already answers (a registry left by an earlier run?); stop it first`);
    this.child = spawn('docker-registry', ['serve', this.config], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`http://${this.address}/v2/`).then(
          (r) => r.status === 200 || r.status === 401,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`registry on ${this.address} did not start`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
