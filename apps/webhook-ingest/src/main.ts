import 'reflect-metadata';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { serviceMain } from '@kiln/platform';
import { webhookConfigSchema } from './config';
import { WebhookAppModule } from './app.module';

serviceMain('webhook-ingest', webhookConfigSchema, (config, logger) => ({
  module: WebhookAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_WEBHOOK_PORT },
  // Fastify, not Express: on Express 5 a delivery took 2-2.5x the CPU (README: Performance). While it stops, a
  // delivery on an open connection is still taken and stored, as on Express, not refused with Fastify's default 503.
  adapter: new FastifyAdapter({ routerOptions: { ignoreTrailingSlash: true }, return503OnClosing: false }),
  // Deliveries are read as raw bytes, whatever their content type: signatures are verified over exactly what was
  // received, and only then is the body parsed (by the host's adapter), so nothing is refused unseen. No body parser
  // reads them first: every content type passes through unread, for the controller.
  bodyParser: false,
  configure: (app) => {
    const fastify = (app as NestFastifyApplication).getHttpAdapter().getInstance();
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', (_req, _payload, done) => done(null));
  },
}));
