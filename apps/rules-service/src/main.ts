import 'reflect-metadata';
import { JsonLogger, loadConfig, runMain, startService } from '@kiln/platform';
import { rulesConfigSchema } from './config';
import { RulesAppModule } from './app.module';

runMain('rules-service', async () => {
  const config = loadConfig(rulesConfigSchema);
  const logger = new JsonLogger('rules-service', config.KILN_LOG_LEVEL);
  await startService({
    name: 'rules-service',
    module: RulesAppModule.forConfig(config, logger),
    logger,
    http: { host: config.KILN_HOST, port: config.KILN_RULES_PORT },
    nats: { url: config.KILN_NATS_URL, queue: 'rules-service' },
  });
});
