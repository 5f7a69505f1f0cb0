import 'reflect-metadata';
import { natsAuth, serviceMain } from '@kiln/platform';
import { rulesConfigSchema } from './config';
import { RulesAppModule } from './app.module';

serviceMain('rules-service', rulesConfigSchema, (config, logger) => ({
  module: RulesAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_RULES_PORT },
  nats: { auth: natsAuth(config), queue: 'rules-service' },
}));
