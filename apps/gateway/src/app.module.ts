import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { HEALTH_CHECKS, HealthCheck, HealthController, JsonLogger, NATS_CLIENT, PlatformModule } from '@kiln/platform';
import { dataSourceOptions, openDatabase } from '@kiln/platform/database';
import { ClientProxy } from '@nestjs/microservices';
import { GatewayConfig } from './config';
import { gatewayDatabase } from './database/database';
import { AuthModule } from './auth/auth.module';
import { BuildsModule } from './builds/builds.module';
import { EventsModule } from './events/events.module';
import { LogsModule } from './logs/logs.module';
import { RegistriesModule } from './registries/registries.module';
import { RulesModule } from './rules/rules.module';
import { SourcesModule } from './sources/sources.module';
import { TokensModule } from './tokens/tokens.module';

export class GatewayAppModule {
  static forConfig(config: GatewayConfig, logger: JsonLogger) {
    @Module({
      imports: [
        PlatformModule.forRoot({ service: 'gateway', config, logger, rpcClient: true }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(config.KILN_DATABASE_URL, gatewayDatabase),
          dataSourceFactory: (options) => openDatabase(options ?? dataSourceOptions(config.KILN_DATABASE_URL, gatewayDatabase), gatewayDatabase.schema),
        }),
        // One module per resource of the API, each with its controller.
        AuthModule,
        SourcesModule,
        RulesModule,
        BuildsModule,
        LogsModule,
        EventsModule,
        TokensModule,
        RegistriesModule,
      ],
      controllers: [HealthController],
      providers: [
        {
          provide: HEALTH_CHECKS,
          inject: [DataSource, NATS_CLIENT],
          useFactory: (db: DataSource, nats: ClientProxy): HealthCheck[] => [
            { name: 'postgres', check: async () => void (await db.query('SELECT 1')) },
            { name: 'nats', check: async () => void (await nats.connect()) },
          ],
        },
      ],
    })
    class GatewayAppModuleImpl {}
    return GatewayAppModuleImpl;
  }
}
