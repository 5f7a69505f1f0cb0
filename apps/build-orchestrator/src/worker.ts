import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, DefaultLogger } from '@temporalio/worker';
import Docker from 'dockerode';
import { promises as fs } from 'node:fs';
import { sourcesCredentials } from '@kiln/contracts';
import { callRpc, EventBus, JsonLogger, KILN_CONFIG, NATS_CLIENT } from '@kiln/platform';
import { createBuildActivities } from './activities/build-activities';
import { OrchestratorConfig } from './config';

export const DOCKER = Symbol('DOCKER');

/** The Temporal workers of this process: one on the shared build queue, one on this worker's own queue. */
@Injectable()
export class BuildWorkers implements OnApplicationBootstrap, OnApplicationShutdown {
  private workers: Worker[] = [];
  private running: Promise<unknown>[] = [];
  private connection: NativeConnection | null = null;
  readonly workerQueue: string;

  constructor(
    @Inject(KILN_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(DOCKER) private readonly docker: Docker,
    @Inject(NATS_CLIENT) private readonly rpc: ClientProxy,
    private readonly bus: EventBus,
    private readonly logger: JsonLogger,
  ) {
    this.workerQueue = `${config.KILN_TASK_QUEUE}@${config.KILN_WORKER_ID}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    installRuntime(this.logger);
    await fs.mkdir(this.config.KILN_WORK_DIR, { recursive: true });
    this.connection = await NativeConnection.connect({ address: this.config.KILN_TEMPORAL_ADDRESS });
    const activities = createBuildActivities({
      docker: this.docker,
      bus: this.bus,
      logger: this.logger,
      credentials: (id) => callRpc(this.rpc, sourcesCredentials, { id }),
      workDir: this.config.KILN_WORK_DIR,
      workerQueue: this.workerQueue,
    });
    const shared = await Worker.create({
      connection: this.connection,
      namespace: this.config.KILN_TEMPORAL_NAMESPACE,
      taskQueue: this.config.KILN_TASK_QUEUE,
      workflowsPath: require.resolve('./workflows'),
      activities: { reportStatus: activities.reportStatus, cloneRepository: activities.cloneRepository },
      maxConcurrentActivityTaskExecutions: this.config.KILN_MAX_CONCURRENT_BUILDS + 8,
    });
    const pinned = await Worker.create({
      connection: this.connection,
      namespace: this.config.KILN_TEMPORAL_NAMESPACE,
      taskQueue: this.workerQueue,
      activities,
      maxConcurrentActivityTaskExecutions: this.config.KILN_MAX_CONCURRENT_BUILDS,
    });
    this.workers = [shared, pinned];
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

  async onApplicationShutdown(): Promise<void> {
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(this.running);
    await this.connection?.close();
  }
}

let runtimeInstalled = false;
/** Route the SDK's own logs through the JSON logger (warnings and up). */
function installRuntime(logger: JsonLogger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => logger.warn({ msg: entry.message, ...(entry.meta ?? {}) }, 'temporal')),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
}
