import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { JsonLogger, loadConfig, runMain, startService } from '@kiln/platform';
import { webhookConfigSchema } from './config';
import { WebhookAppModule } from './app.module';

runMain('webhook-ingest', async () => {
  const config = loadConfig(webhookConfigSchema);
  const logger = new JsonLogger('webhook-ingest', config.KILN_LOG_LEVEL);
  await startService({
    name: 'webhook-ingest',
    module: WebhookAppModule.forConfig(config, logger),
    logger,
    http: { host: config.KILN_HOST, port: config.KILN_WEBHOOK_PORT },
    rawBody: true,
    configure: (app) => {
      const express = app as NestExpressApplication;
      express.useBodyParser('json', { limit: config.KILN_WEBHOOK_MAX_BYTES });
      express.useBodyParser('urlencoded', { limit: config.KILN_WEBHOOK_MAX_BYTES, extended: false });
    },
  });
});
