import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown, Provider } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { BaseConfig, KILN_CONFIG, natsAuth, natsOptions } from './config';
import { EventBus } from './events';
import { HealthCheck, HEALTH_CHECKS, SERVICE_NAME } from './health';
import { JsonLogger } from './logger';
import { NATS_CLIENT } from './rpc';
import { NATS_CONNECTION } from './bytes-rpc';
import { connect } from 'nats';
import { Metrics } from './metrics';
import { MetricsController, METRICS_TOKEN } from './metrics.controller';

export interface PlatformOptions {
  service: string;
  config: BaseConfig;
  logger: JsonLogger;
  /** Connect the JetStream event bus (and create the streams). */
  events?: boolean;
  /** A NATS request/reply client for calling other services (Nest's, and a plain connection for bytes RPCs). */
  rpcClient?: boolean;
}

@Injectable()
class PlatformShutdown implements OnApplicationShutdown {
  constructor(@Inject(PlatformShutdown.CLOSERS) private readonly closers: Array<() => Promise<void>>) {}
  static readonly CLOSERS = Symbol('CLOSERS');
  async onApplicationShutdown(): Promise<void> {
    for (const close of this.closers) await close().catch(() => undefined);
  }
}

/** The shared wiring of every Kiln service: typed config, JSON logger, NATS, shutdown. */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(opts: PlatformOptions): DynamicModule {
    const closers: Array<() => Promise<void>> = [];
    const metrics = new Metrics(opts.service);
    const providers: Provider[] = [
      { provide: KILN_CONFIG, useValue: opts.config },
      { provide: SERVICE_NAME, useValue: opts.service },
      { provide: JsonLogger, useValue: opts.logger },
      { provide: PlatformShutdown.CLOSERS, useValue: closers },
      PlatformShutdown,
      { provide: Metrics, useValue: metrics },
      { provide: METRICS_TOKEN, useValue: opts.config.KILN_METRICS_TOKEN },
    ];
    const exported: Array<symbol | typeof JsonLogger | typeof EventBus | typeof Metrics> = [KILN_CONFIG, SERVICE_NAME, JsonLogger, Metrics];
    if (opts.events) {
      providers.push({
        provide: EventBus,
        useFactory: async () => {
          const bus = await EventBus.connect(natsAuth(opts.config), opts.service, opts.logger);
          await bus.ensureStreams(opts.config.KILN_STREAM_REPLICAS);
          bus.instrument(metrics);
          closers.push(() => bus.close());
          return bus;
        },
      });
      exported.push(EventBus);
    }
    if (opts.rpcClient) {
      providers.push({
        provide: NATS_CLIENT,
        useFactory: async () => {
          const client = ClientProxyFactory.create({ transport: Transport.NATS, options: natsOptions(natsAuth(opts.config), `${opts.service}-client`) }) as ClientProxy;
          await client.connect();
          closers.push(() => client.close());
          return client;
        },
      });
      providers.push({
        provide: NATS_CONNECTION,
        useFactory: async () => {
          const nc = await connect({ ...natsOptions(natsAuth(opts.config), `${opts.service}-rpc`), maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true });
          closers.push(() => nc.drain());
          return nc;
        },
      });
      exported.push(NATS_CLIENT, NATS_CONNECTION);
    }
    return { module: PlatformModule, providers, exports: exported, controllers: [MetricsController] };
  }
}

/** Health checks for the dependencies the platform wires. Apps add their own (database, Temporal, Docker). */
export function natsHealthCheck(bus: EventBus): HealthCheck {
  return {
    name: 'nats',
    check: async () => {
      if (!bus.connected) throw new Error('NATS connection closed');
      await bus.nc.flush();
    },
  };
}

export { HEALTH_CHECKS };
