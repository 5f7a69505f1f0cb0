import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from './api';
import { expectEventually } from './expect-eventually';
import { BuildItem } from './scenario';
import { services } from './stack';

export interface BuildDetail extends BuildItem {
  steps: Array<{ name: string; status: string; attempt: number }>;
  images: Array<{ platform: string; digest: string }>;
}

/** A log line as the API answers it. */
export interface LogLineItem {
  id: string;
  seq: number;
  step: string;
  attempt: number;
  stream: string;
  time: string;
  text: string;
}

/** "Build now" of a rule's branch, then wait until the build has finished, however it ended. */
export async function buildNow(api: Api, ruleId: string, timeoutMs = 180_000): Promise<BuildDetail> {
  const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${ruleId}/builds`, { branch: 'main' });
  return expectEventually(
    async () => {
      const b = await api.ok<BuildDetail>('GET', `/api/v1/builds/${started.buildId}`);
      if (!['succeeded', 'failed', 'cancelled'].includes(b.status)) throw new Error(`build ${b.id} is still ${b.status}`);
      return b;
    },
    timeoutMs,
    200,
  );
}

/**
 * Waits until the build's workflow has ended. A build is reported done when its image is pushed; its workflow goes on
 * to export the rule's layer cache and clean up, which a test that restarts the worker must not cut short.
 */
export async function workflowEnded(build: { workflowId: string }): Promise<void> {
  // Loaded here, not at the top: the Temporal client (and its protobuf definitions) cost each test file that imports
  // this module about half a CPU-second, and few of them wait for a workflow.
  const { Client, Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address: services.temporal });
  try {
    await new Client({ connection }).workflow.getHandle(build.workflowId).result();
  } finally {
    await connection.close();
  }
}

/**
 * Another BuildKit daemon with the configuration `scripts/kiln` gave the first (its registry mirror, in the build
 * namespace), but an empty root and a socket of its own: a second worker's engine. Given the `dir` of one started
 * before (and since stopped), it starts again on the same root and socket, as a restarted daemon would. `stop()`
 * signals it (SIGTERM unless told) and resolves once it has exited.
 */
export interface Buildkitd {
  address: string;
  process: ChildProcess;
  dir: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startBuildkitd(reuse?: string): Promise<Buildkitd> {
  const dir = reuse ?? mkdtempSync(join(tmpdir(), 'kiln-buildkitd-'));
  if (!reuse) {
    const config = readFileSync(join(services.state, 'buildkitd.toml'), 'utf8')
      .replace(/^root = .*$/m, `root = "${dir}/root"`)
      .replace(/address = \[.*\]/, `address = ["unix://${dir}/buildkitd.sock"]`);
    writeFileSync(join(dir, 'buildkitd.toml'), config);
  }
  const child = spawn('nsenter', ['--net=/var/run/netns/kiln-build', services.buildkitd, '--config', join(dir, 'buildkitd.toml'), '--oci-worker-net=host'], { stdio: 'ignore' });
  const address = `unix://${dir}/buildkitd.sock`;
  await expectEventually(() => execFileSync(services.buildctl, ['--addr', address, 'debug', 'workers'], { stdio: 'ignore' }), 30_000, 200);
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  };
  return { address, process: child, dir, stop };
}

/**
 * `buildctl build` as a user runs it by hand: the Dockerfile frontend on a local folder (its Dockerfile and context),
 * the image pushed to `reference` (an insecure, plain-HTTP registry, like the test registries).
 */
export function buildctlBuildArgs(address: string, dir: string, reference: string): string[] {
  return [
    '--addr',
    address,
    'build',
    '--progress=plain',
    '--frontend',
    'dockerfile.v0',
    '--local',
    `context=${dir}`,
    '--local',
    `dockerfile=${dir}`,
    '--output',
    `type=image,name=${reference},push=true,registry.insecure=true`,
  ];
}
