import 'reflect-metadata';
import { serviceMain } from '@kiln/platform';
import { rulesConfigSchema } from './config';
import { RulesAppModule } from './app.module';

serviceMain('rules-service', rulesConfigSchema, (config, logger) => ({
  module: RulesAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_RULES_PORT },
  nats: { url: config.KILN_NATS_URL, queue: 'rules-service' },
}));
