import { Module } from '@nestjs/common';
import { EventBus, HEALTH_CHECKS, HealthCheck, HealthController, JsonLogger, natsHealthCheck, PlatformModule } from '@kiln/platform';
import { WebhookConfig } from './config';
import { WebhooksController } from './webhooks/webhooks.controller';
import { WebhooksService } from './webhooks/webhooks.service';

export class WebhookAppModule {
  static forConfig(config: WebhookConfig, logger: JsonLogger) {
    @Module({
      imports: [PlatformModule.forRoot({ service: 'webhook-ingest', config, logger, events: true, rpcClient: true })],
      controllers: [HealthController, WebhooksController],
      providers: [{ provide: HEALTH_CHECKS, inject: [EventBus], useFactory: (bus: EventBus): HealthCheck[] => [natsHealthCheck(bus)] }, WebhooksService],
    })
    class WebhookAppModuleImpl {}
    return WebhookAppModuleImpl;
  }
}
