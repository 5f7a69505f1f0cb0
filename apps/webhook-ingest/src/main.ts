import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { raw } from 'express';
import { serviceMain } from '@kiln/platform';
import { webhookConfigSchema } from './config';
import { WebhookAppModule } from './app.module';

serviceMain('webhook-ingest', webhookConfigSchema, (config, logger) => ({
  module: WebhookAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_WEBHOOK_PORT },
  // Deliveries are read as raw bytes, whatever their content type: signatures are verified over exactly
  // what was received, and only then is the body parsed (by the host's adapter), so nothing is refused unseen.
  bodyParser: false,
  configure: (app) => {
    (app as NestExpressApplication).use('/webhooks', raw({ type: () => true, limit: config.KILN_WEBHOOK_MAX_BYTES }));
  },
}));
