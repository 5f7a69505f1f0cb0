import 'reflect-metadata';
import { JsonLogger, loadConfig, runMain, startService } from '@kiln/platform';
import { orchestratorConfigSchema } from './config';
import { OrchestratorAppModule } from './app.module';

runMain('build-orchestrator', async () => {
  const config = loadConfig(orchestratorConfigSchema);
  const logger = new JsonLogger('build-orchestrator', config.KILN_LOG_LEVEL);
  await startService({
    name: 'build-orchestrator',
    module: OrchestratorAppModule.forConfig(config, logger),
    logger,
    http: { host: config.KILN_HOST, port: config.KILN_ORCHESTRATOR_PORT },
  });
});
