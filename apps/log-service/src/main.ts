import 'reflect-metadata';
import { natsAuth, serviceMain } from '@kiln/platform';
import { logConfigSchema } from './config';
import { LogAppModule } from './app.module';

serviceMain('log-service', logConfigSchema, (config, logger) => ({
  module: LogAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_LOGS_PORT },
  nats: { auth: natsAuth(config), queue: 'log-service' },
}));
