import { Module } from '@nestjs/common';
import Docker from 'dockerode';
import { EventBus, HEALTH_CHECKS, HealthCheck, HealthController, JsonLogger, natsHealthCheck, PlatformModule } from '@kiln/platform';
import { OrchestratorConfig } from './config';
import { BuildWorkers, DOCKER } from './worker';

export class OrchestratorAppModule {
  static forConfig(config: OrchestratorConfig, logger: JsonLogger) {
    @Module({
      imports: [PlatformModule.forRoot({ service: 'build-orchestrator', config, logger, events: true, rpcClient: true })],
      controllers: [HealthController],
      providers: [
        { provide: DOCKER, useValue: new Docker({ socketPath: config.KILN_DOCKER_SOCKET }) },
        BuildWorkers,
        {
          provide: HEALTH_CHECKS,
          inject: [EventBus, DOCKER, BuildWorkers],
          useFactory: (bus: EventBus, docker: Docker, workers: BuildWorkers): HealthCheck[] => [
            natsHealthCheck(bus),
            { name: 'docker', check: async () => void (await docker.ping()) },
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
