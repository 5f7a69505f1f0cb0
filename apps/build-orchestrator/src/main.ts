import 'reflect-metadata';
import { serviceMain } from '@kiln/platform';
import { orchestratorConfigSchema } from './config';
import { OrchestratorAppModule } from './app.module';

serviceMain('build-orchestrator', orchestratorConfigSchema, (config, logger) => ({
  module: OrchestratorAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_ORCHESTRATOR_PORT },
}));
