import 'reflect-metadata';
import { JsonLogger, loadConfig, runMain, startService } from '@kiln/platform';
import { logConfigSchema } from './config';
import { LogAppModule } from './app.module';

runMain('log-service', async () => {
  const config = loadConfig(logConfigSchema);
  const logger = new JsonLogger('log-service', config.KILN_LOG_LEVEL);
  await startService({
    name: 'log-service',
    module: LogAppModule.forConfig(config, logger),
    logger,
    http: { host: config.KILN_HOST, port: config.KILN_LOGS_PORT },
    nats: { url: config.KILN_NATS_URL, queue: 'log-service' },
  });
});
