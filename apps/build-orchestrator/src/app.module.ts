import { Module } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EventBus, HEALTH_CHECKS, HealthCheck, HealthController, JsonLogger, natsHealthCheck, PlatformModule } from '@kiln/platform';
import { OrchestratorConfig } from './config';
import { BuildWorkers } from './worker';

const run = promisify(execFile);

export class OrchestratorAppModule {
  static forConfig(config: OrchestratorConfig, logger: JsonLogger) {
    @Module({
      imports: [PlatformModule.forRoot({ service: 'build-orchestrator', config, logger, events: true, rpcClient: true })],
      controllers: [HealthController],
      providers: [
        BuildWorkers,
        {
          provide: HEALTH_CHECKS,
          inject: [EventBus, BuildWorkers],
          useFactory: (bus: EventBus, workers: BuildWorkers): HealthCheck[] => [
            natsHealthCheck(bus),
            { name: 'buildkit', check: async () => void (await run(config.KILN_BUILDCTL, ['--addr', config.KILN_BUILDKIT_ADDR, 'debug', 'workers'], { timeout: 5_000 })) },
            {
              name: 'temporal-workers',
              check: async () => {
                if (!workers.state.every((s) => s === 'RUNNING')) throw new Error(`worker states: ${workers.state.join(', ') || 'not started'}`);
              },
            },
          ],
        },
      ],
    })
    class OrchestratorAppModuleImpl {}
    return OrchestratorAppModuleImpl;
  }
}
