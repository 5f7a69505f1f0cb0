import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { services } from './stack';

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** The registry's answer for a tag: its digest, or null when it does not serve the tag. */
export async function manifestDigest(repository: string, tag: string, registry = services.registry): Promise<string | null> {
  const res = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES } });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

export async function registryTags(repository: string, registry = services.registry): Promise<string[]> {
  const res = await fetch(`http://${registry}/v2/${repository}/tags/list`);
  if (res.status === 404) return [];
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

export const docker = (): Docker => new Docker({ socketPath: services.dockerSocket });

/** Pull a reference from the registry (dropping any local copy first) and run a command in it, without a network. */
export async function pullAndRun(reference: string, cmd: string[]): Promise<string> {
  const d = docker();
  await d.getImage(reference).remove({ noprune: true }).catch(() => undefined);
  const stream = await d.pull(reference);
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
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

/** A registry of the test's own (Debian's docker-registry) on a loopback port, which the test may stop and start. */
export class OwnRegistry {
  private child: ChildProcess | null = null;
  private constructor(
    readonly address: string,
    private readonly config: string,
  ) {}

  static create(port: number): OwnRegistry {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-registry-'));
    const config = join(dir, 'config.yml');
    writeFileSync(config, `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${dir}/data }\n  delete: { enabled: true }\nhttp: { addr: 127.0.0.1:${port} }\n`);
    return new OwnRegistry(`127.0.0.1:${port}`, config);
  }

  async start(): Promise<void> {
    this.child = spawn('docker-registry', ['serve', this.config], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://${this.address}/v2/`).then((r) => r.status === 200, () => false)) return;
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
