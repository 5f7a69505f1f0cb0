import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, DefaultLogger } from '@temporalio/worker';
import { promises as fs } from 'node:fs';
import { cloneTaskQueue, registriesCredentials, rulesBuildSecrets, SEARCH_ATTRIBUTES, sourcesCredentials } from '@kiln/contracts';
import { temporal } from '@temporalio/proto';
import { callRpc, EventBus, freePort, HostPolicy, JsonLogger, KILN_CONFIG, launcher, Metrics, METRICS, NATS_CLIENT, temporalConnectionOptions } from '@kiln/platform';
import { createBuildActivities } from './activities/build-activities';
import { OrchestratorConfig } from './config';
import { BuildSlots } from './slots/build-slots';
import { workflowCode } from './workflow-bundle';

/** The Temporal workers of this process: one on the shared build queue, one on this worker's own queue. */
@Injectable()
export class BuildWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private workers: Worker[] = [];
  private running: Promise<unknown>[] = [];
  private connection: NativeConnection | null = null;
  readonly workerQueue: string;
  readonly slots: BuildSlots;

  constructor(
    @Inject(KILN_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(NATS_CLIENT) private readonly rpc: ClientProxy,
    private readonly bus: EventBus,
    private readonly logger: JsonLogger,
    metrics: Metrics,
  ) {
    this.workerQueue = `${config.KILN_TASK_QUEUE}@${config.KILN_WORKER_ID}`;
    this.slots = new BuildSlots(config.KILN_MAX_CONCURRENT_BUILDS);
    metrics.gauge(METRICS.slotsInUse, (g) => g.set(this.slots.inUse));
    metrics.gauge(METRICS.slots, (g) => g.set(config.KILN_MAX_CONCURRENT_BUILDS));
    this.metrics = metrics;
  }
  private readonly metrics: Metrics;

  async onApplicationBootstrap(): Promise<void> {
    // The SDK's own metrics (task slots, polls, schedule-to-start latency, ...) from its Prometheus exporter on a
    // loopback port, served only through this app's authenticated /metrics.
    const temporalMetrics = `127.0.0.1:${await freePort()}`;
    installRuntime(this.logger, temporalMetrics);
    this.metrics.addExternal(async () => {
      const res = await fetch(`http://${temporalMetrics}/metrics`);
      return res.ok ? res.text() : '';
    });
    await fs.mkdir(this.config.KILN_WORK_DIR, { recursive: true });
    // git and buildctl run from the process launcher: started now, the first build does not wait for it.
    launcher.warm();
    this.connection = await NativeConnection.connect(temporalConnectionOptions(this.config));
    await registerSearchAttributes(this.connection, this.config.KILN_TEMPORAL_NAMESPACE, this.logger);
    const activities = createBuildActivities({
      buildkit: { address: this.config.KILN_BUILDKIT_ADDR, buildctl: this.config.KILN_BUILDCTL },
      // Read at each use: an operator may rotate the credentials without restarting the worker.
      registryAuth: async () => JSON.parse(await fs.readFile(this.config.KILN_REGISTRY_AUTH_FILE, 'utf8')) as { auths?: Record<string, { auth?: string }> },
      insecureRegistries: this.config.KILN_INSECURE_REGISTRIES,
      registryCredentials: (ids) => callRpc(this.rpc, registriesCredentials, { ids }),
      bus: this.bus,
      logger: this.logger,
      credentials: (id) => callRpc(this.rpc, sourcesCredentials, { id }),
      buildSecrets: (ruleId, names) => callRpc(this.rpc, rulesBuildSecrets, { ruleId, names }),
      slots: this.slots,
      hosts: new HostPolicy(this.config.KILN_GIT_ALLOW_HOSTS),
      workDir: this.config.KILN_WORK_DIR,
      mirrorDir: this.config.KILN_MIRROR_DIR,
      mirrorBudgetBytes: this.config.KILN_MIRROR_BUDGET_MB * 1024 * 1024,
      cacheExportQuietMs: this.config.KILN_CACHE_EXPORT_QUIET_MS,
      workerQueue: this.workerQueue,
    });
    const grace = this.config.KILN_SHUTDOWN_GRACE_SECONDS * 1000;
    const code = await workflowCode();
    this.logger.log({ msg: 'workflow code', from: 'workflowBundle' in code ? 'the bundle made at build time' : 'its sources, bundled now' }, 'BuildWorkers');
    const shared = await Worker.create({
      connection: this.connection,
      namespace: this.config.KILN_TEMPORAL_NAMESPACE,
      taskQueue: this.config.KILN_TASK_QUEUE,
      ...code,
      activities: { reportStatus: activities.reportStatus },
      maxConcurrentActivityTaskExecutions: 32,
      shutdownGraceTime: grace,
    });
    // Admission: a build starts (clones) here only while this worker has a free build slot.
    const admission = await Worker.create({
      connection: this.connection,
      namespace: this.config.KILN_TEMPORAL_NAMESPACE,
      taskQueue: cloneTaskQueue(this.config.KILN_TASK_QUEUE),
      activities: { cloneRepository: activities.cloneRepository },
      shutdownGraceTime: grace,
      tuner: {
        activityTaskSlotSupplier: this.slots.supplier(),
        workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
        localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
        nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
      },
    });
    const pinned = await Worker.create({
      connection: this.connection,
      namespace: this.config.KILN_TEMPORAL_NAMESPACE,
      taskQueue: this.workerQueue,
      activities,
      // Each build holding a slot runs one step at a time here, plus room for cleanups.
      maxConcurrentActivityTaskExecutions: this.config.KILN_MAX_CONCURRENT_BUILDS * 2 + 2,
      shutdownGraceTime: grace,
    });
    this.workers = [shared, admission, pinned];
    this.running = this.workers.map((w) =>
      w.run().catch((err: unknown) => {
        this.logger.error({ msg: 'worker stopped with an error', taskQueue: w.options.taskQueue, err: String(err) }, 'BuildWorkers');
        process.exitCode = 1;
      }),
    );
    this.logger.log({ msg: 'workers running', taskQueue: this.config.KILN_TASK_QUEUE, workerQueue: this.workerQueue }, 'BuildWorkers');
  }

  get state(): string[] {
    return this.workers.map((w) => w.getState());
  }

  /**
   * SIGTERM: the workers stop polling at once and running steps get KILN_SHUTDOWN_GRACE_SECONDS to finish. Before
   * the application's shutdown, so that NATS (status reports, log lines) is still there while they do.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.logger.log({ msg: 'stopping: no new steps; running ones finish', graceSeconds: this.config.KILN_SHUTDOWN_GRACE_SECONDS }, 'BuildWorkers');
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(this.running);
    await this.connection?.close();
  }
}

/** Operators find builds by these (`temporal workflow list --query 'KilnRuleId="…"'`): make sure they exist. */
async function registerSearchAttributes(connection: NativeConnection, namespace: string, logger: JsonLogger): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const existing = new Set(Object.keys(customAttributes ?? {}));
  const missing = Object.values(SEARCH_ATTRIBUTES).filter((name) => !existing.has(name));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  logger.log({ msg: 'search attributes registered', names: missing }, 'BuildWorkers');
}

let runtimeInstalled = false;
/** Route the SDK's own logs through the JSON logger (warnings and up). */
function installRuntime(logger: JsonLogger, metricsAddress: string): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => logger.warn({ msg: entry.message, ...(entry.meta ?? {}) }, 'temporal')),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true }, metricPrefix: 'temporal_' },
    },
  });
}
