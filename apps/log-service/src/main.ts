import 'reflect-metadata';
import { serviceMain } from '@kiln/platform';
import { logConfigSchema } from './config';
import { LogAppModule } from './app.module';

serviceMain('log-service', logConfigSchema, (config, logger) => ({
  module: LogAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_LOGS_PORT },
  nats: { url: config.KILN_NATS_URL, queue: 'log-service' },
}));
