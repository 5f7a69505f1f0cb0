import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { dataSourceOptions, HEALTH_CHECKS, HealthCheck, HealthController, JsonLogger, NATS_CLIENT, openDatabase, PlatformModule } from '@kiln/platform';
import { ClientProxy } from '@nestjs/microservices';
import { GatewayConfig } from './config';
import { gatewayDatabase } from './database/database';
import { ApiTokenEntity } from './auth/api-token.entity';
import { AuthGuard } from './auth/auth.guard';
import { TokensService } from './auth/tokens.service';
import { BuildsApiController, EventsApiController, LogsApiController, OAuthCallbackController, RulesApiController, SourcesApiController, TokensApiController } from './api/api.controller';
import { Rpc } from './api/rpc.service';
import { RegistriesApiController } from './registries/registries.controller';

export class GatewayAppModule {
  static forConfig(config: GatewayConfig, logger: JsonLogger) {
    @Module({
      imports: [
        PlatformModule.forRoot({ service: 'gateway', config, logger, rpcClient: true }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(config.KILN_DATABASE_URL, gatewayDatabase),
          dataSourceFactory: (options) => openDatabase(options ?? dataSourceOptions(config.KILN_DATABASE_URL, gatewayDatabase), gatewayDatabase.schema),
        }),
        TypeOrmModule.forFeature([ApiTokenEntity]),
      ],
      controllers: [
        HealthController,
        SourcesApiController,
        RulesApiController,
        BuildsApiController,
        TokensApiController,
        EventsApiController,
        LogsApiController,
        OAuthCallbackController,
        RegistriesApiController,
      ],
      providers: [
        {
          provide: HEALTH_CHECKS,
          inject: [DataSource, NATS_CLIENT],
          useFactory: (db: DataSource, nats: ClientProxy): HealthCheck[] => [
            { name: 'postgres', check: async () => void (await db.query('SELECT 1')) },
            { name: 'nats', check: async () => void (await nats.connect()) },
          ],
        },
        TokensService,
        AuthGuard,
        Rpc,
      ],
    })
    class GatewayAppModuleImpl {}
    return GatewayAppModuleImpl;
  }
}
