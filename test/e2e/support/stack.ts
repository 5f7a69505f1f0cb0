import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createConnection } from 'node:net';
import { connect } from 'nats';
import { Client } from 'pg';
import { expectEventually } from './expect-eventually';

/** The repository root (the folder with nx.json), from source or from its compiled copy in dist/. */
export const ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'nx.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
const STATE = process.env.KILN_TEST_STATE ?? join(process.env.HOME ?? '/root', '.kiln');

/** The real services `scripts/kiln test` starts; tests never mock them. */
export const services = {
  postgresAdmin: 'postgres://postgres@127.0.0.1:5432/postgres',
  database: 'kiln_test',
  nats: process.env.KILN_TEST_NATS_URL ?? 'nats://127.0.0.1:14222',
  temporal: '127.0.0.1:7233',
  dockerSocket: process.env.KILN_DOCKER_SOCKET ?? join(STATE, 'docker.sock'),
  registry: process.env.KILN_REGISTRY ?? '10.231.0.1:5000',
  /** Kiln's registry credentials (a docker config.json), written by `scripts/kiln`. */
  registryAuthFile: process.env.KILN_REGISTRY_AUTH_FILE ?? join(STATE, 'registry-auth', 'config.json'),
  buildkit: process.env.KILN_BUILDKIT_ADDR ?? `unix://${join(STATE, 'buildkitd.sock')}`,
  buildctl: process.env.KILN_BUILDCTL ?? join(STATE, 'bin', 'buildctl'),
  /** The host's address on the build network: the only host address a build step can reach, on few ports. */
  buildHost: process.env.KILN_BUILD_HOST_ADDR ?? '10.231.0.1',
};

const APPS = ['log-service', 'rules-service', 'build-orchestrator', 'webhook-ingest', 'gateway'] as const;
type App = (typeof APPS)[number];
const PORT_ORDER: App[] = ['gateway', 'webhook-ingest', 'rules-service', 'log-service', 'build-orchestrator'];

export interface Stack {
  gatewayUrl: string;
  webhookUrl: string;
  adminToken: string;
  taskQueue: string;
  ports: Record<App, number>;
  logDir: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
  stopApp(app: App, signal?: NodeJS.Signals): Promise<void>;
  startApp(app: App): Promise<void>;
}

/** Wipe the test database and streams, then start the five compiled apps on test ports. */
export async function startStack(basePort = 18080, opts: { registry?: string; env?: Record<string, string> } = {}): Promise<Stack> {
  if (!existsSync(join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js')))
    throw new Error('dist/ is missing: run the suite through `npm test` (scripts/kiln test), which compiles first');
  await resetDatabase();
  await resetStreams();
  const ports = Object.fromEntries(APPS.map((a) => [a, basePort + PORT_ORDER.indexOf(a)])) as Record<App, number>;
  const logDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-logs-'));
  const adminToken = `kiln_test_${randomBytes(12).toString('hex')}`;
  const taskQueue = `kiln-builds-test-${process.pid}-${Date.now()}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KILN_HOST: '127.0.0.1',
    KILN_LOG_LEVEL: 'info',
    KILN_DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${services.database}`,
    KILN_NATS_URL: services.nats,
    KILN_TEMPORAL_ADDRESS: services.temporal,
    KILN_TASK_QUEUE: taskQueue,
    KILN_SECRET_KEY: randomBytes(32).toString('base64'),
    KILN_ADMIN_TOKEN: adminToken,
    KILN_BUILDKIT_ADDR: services.buildkit,
    KILN_BUILDCTL: services.buildctl,
    KILN_REGISTRY_AUTH_FILE: services.registryAuthFile,
    KILN_INSECURE_REGISTRIES: services.buildHost,
    KILN_WORK_DIR: mkdtempSync(join(tmpdir(), 'kiln-e2e-work-')),
    KILN_REGISTRY: opts.registry ?? services.registry,
    KILN_WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${ports['webhook-ingest']}`,
    KILN_GATEWAY_PORT: String(ports.gateway),
    KILN_WEBHOOK_PORT: String(ports['webhook-ingest']),
    KILN_RULES_PORT: String(ports['rules-service']),
    KILN_LOGS_PORT: String(ports['log-service']),
    KILN_ORCHESTRATOR_PORT: String(ports['build-orchestrator']),
    KILN_WORKER_ID: `e2e-${process.pid}`,
    // For profiling a benchmark's apps (e.g. `-r ./profiler.js`); unset in the suite.
    ...(process.env.KILN_APP_NODE_OPTIONS ? { NODE_OPTIONS: process.env.KILN_APP_NODE_OPTIONS } : {}),
    // The tests' git servers listen on loopback, which Kiln refuses unless allowed.
    KILN_GIT_ALLOW_HOSTS: '127.0.0.1',
    ...opts.env,
  };
  const children = new Map<App, ChildProcess>();

  const startApp = async (app: App) => {
    if (await portAnswers(ports[app]))
      throw new Error(`port ${ports[app]} for ${app} is already in use (a Kiln left over from an earlier run?); stop it first`);
    // Straight to a file: a pipe through this (busy) process would make the app's synchronous stdout writes wait.
    const out = openSync(join(logDir, `${app}.log`), 'a');
    const child = spawn(process.execPath, ['-r', join(ROOT, 'tools', 'register-dist-paths.js'), join(ROOT, 'dist', 'apps', app, 'src', 'main.js')], {
      env,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    children.set(app, child);
    await expectEventually(async () => {
      if (child.exitCode !== null) throw new Error(`${app} exited with ${child.exitCode}:\n${tail(join(logDir, `${app}.log`))}`);
      const res = await fetch(`http://127.0.0.1:${ports[app]}/health`);
      if (res.status !== 200) throw new Error(`${app} health ${res.status}: ${await res.text()}`);
    }, 60_000);
  };

  const stopApp = async (app: App, signal: NodeJS.Signals = 'SIGTERM') => {
    const child = children.get(app);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  for (const app of APPS) await startApp(app);
  return {
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    webhookUrl: `http://127.0.0.1:${ports['webhook-ingest']}`,
    adminToken,
    taskQueue,
    ports,
    logDir,
    env,
    startApp,
    stopApp,
    stop: async () => {
      for (const app of [...APPS].reverse()) await stopApp(app);
    },
  };
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function resetDatabase(): Promise<void> {
  const pg = new Client({ connectionString: services.postgresAdmin });
  await pg.connect();
  try {
    await pg.query(`DROP DATABASE IF EXISTS ${services.database} WITH (FORCE)`);
    await pg.query(`CREATE DATABASE ${services.database}`);
  } finally {
    await pg.end();
  }
}

async function resetStreams(): Promise<void> {
  const nc = await connect({ servers: services.nats });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of ['KILN_EVENTS', 'KILN_BUILDS', 'KILN_LOGS']) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Messages stored in a stream right now, or only those on one subject. */
export async function streamMessages(stream: string, subject?: string): Promise<number> {
  const nc = await connect({ servers: services.nats });
  try {
    const jsm = await nc.jetstreamManager();
    if (!subject) return (await jsm.streams.info(stream)).state.messages;
    const info = await jsm.streams.info(stream, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  } finally {
    await nc.close();
  }
}

/** Normalized pushes stored (ledger records of pings and refusals share the stream). */
export const storedPushes = (): Promise<number> => streamMessages('KILN_EVENTS', 'push.received.v1');

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
