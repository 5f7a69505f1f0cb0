import { INestApplication, Type } from '@nestjs/common';
import { AbstractHttpAdapter, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { setFlagsFromString } from 'node:v8';
import { z } from 'zod';
import { BaseConfig, loadConfig, NatsAuth, natsOptions } from './config';
import { JsonLogger } from './logger';
import { KilnExceptionFilter } from './rpc';
import { Metrics } from './metrics';

export interface ServiceSpec {
  name: string;
  module: Type<unknown>;
  logger: JsonLogger;
  http: { host: string; port: number };
  /** Serve `@MessagePattern` handlers over NATS; replicas share the queue group. */
  nats?: { auth: NatsAuth; queue: string };
  rawBody?: boolean;
  /** Nest's JSON/form body parsers; off when the app reads raw bytes itself. */
  bodyParser?: boolean;
  /**
   * The HTTP framework under Nest: Express unless an app passes another adapter (webhook-ingest runs on Fastify: on
   * Express 5 a delivery took 2-2.5x the CPU, see its README).
   */
  adapter?: AbstractHttpAdapter;
  configure?: (app: INestApplication) => void | Promise<void>;
}

export async function startService(spec: ServiceSpec): Promise<INestApplication> {
  const options = { logger: spec.logger, rawBody: spec.rawBody ?? false, bodyParser: spec.bodyParser ?? true, bufferLogs: false };
  const app = spec.adapter ? await NestFactory.create(spec.module, spec.adapter, options) : await NestFactory.create<NestExpressApplication>(spec.module, options);
  // No `X-Powered-By: Express` on every answer: it tells a prober what to try, and costs a header per request.
  if (app.getHttpAdapter().getType() === 'express') (app as NestExpressApplication).disable('x-powered-by');
  app.useGlobalFilters(new KilnExceptionFilter(spec.logger, app.getHttpAdapter()));
  app.enableShutdownHooks();
  if (spec.configure) await spec.configure(app);
  app.get(Metrics).instrumentHttp(app.getHttpServer());
  if (spec.nats) {
    app.connectMicroservice<MicroserviceOptions>({ transport: Transport.NATS, options: { ...natsOptions(spec.nats.auth, `${spec.name}-server`), queue: spec.nats.queue } }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  await app.listen(spec.http.port, spec.http.host);
  spec.logger.log({ msg: 'listening', url: `http://${spec.http.host}:${spec.http.port}` }, 'Bootstrap');
  return app;
}

/**
 * Lets the old generation grow to 4× what survived the last full GC before the next one. With V8's default factor
 * (about 1.5× on a heap of ~26 MB), the socket and message buffers a service allocates outside the heap (each counts
 * against the old generation's limit) started a new incremental mark-compact every ~30 log pages in the gateway: a
 * third of its CPU, and marking steps of 10 ms that were the p99 of a log page. Read by V8 at each full GC, so setting
 * it at start-up is enough; memory stays bounded by the same factor of the live heap.
 */
export const HEAP_GROWING_PERCENT = 300;

export function tuneHeap(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** `main.ts` of every app: start, or print why not and exit 1. */
export function runMain(name: string, start: () => Promise<unknown>): void {
  tuneHeap();
  start().catch((err: unknown) => {
    new JsonLogger(name).error(err instanceof Error ? err : { msg: String(err) }, 'Bootstrap');
    process.exit(1);
  });
}

/**
 * The whole `main.ts` of a service: validate its configuration once, make its JSON logger, start it.
 * A configuration problem or a failed start prints why and exits 1.
 */
export function serviceMain<S extends z.ZodType<BaseConfig, z.ZodTypeDef, unknown>>(
  name: string,
  schema: S,
  spec: (config: z.infer<S>, logger: JsonLogger) => Omit<ServiceSpec, 'name' | 'logger'>,
): void {
  runMain(name, async () => {
    const config = loadConfig(schema);
    const logger = new JsonLogger(name, config.KILN_LOG_LEVEL);
    await startService({ name, logger, ...spec(config, logger) });
  });
}
