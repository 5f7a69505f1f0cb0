import 'reflect-metadata';
import { serviceMain } from '@kiln/platform';
import { webhookConfigSchema } from './config';
import { WebhookAppModule } from './app.module';
import { serveDeliveriesFirst } from './webhooks/webhook-http';
import { WebhooksService } from './webhooks/webhooks.service';

serviceMain('webhook-ingest', webhookConfigSchema, (config, logger) => ({
  module: WebhookAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_WEBHOOK_PORT },
  // Deliveries are read as raw bytes, whatever their content type: signatures are verified over exactly
  // what was received, and only then is the body parsed (by the host's adapter), so nothing is refused unseen.
  bodyParser: false,
  configure: (app) => {
    serveDeliveriesFirst(app.getHttpServer(), app.get(WebhooksService), config.KILN_WEBHOOK_MAX_BYTES, logger);
  },
}));
