import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client, Connection } from '@temporalio/client';
import { DataSource } from 'typeorm';
import { EventBus, HEALTH_CHECKS, HealthCheck, HealthController, JsonLogger, natsHealthCheck, PlatformModule, temporalConnectionOptions } from '@kiln/platform';
import { dataSourceOptions, openDatabase } from '@kiln/platform/database';
import { RulesConfig } from './config';
import { SecretBox } from './crypto/secret-box';
import { SECRET_BOX, TEMPORAL_CLIENT } from './crypto/tokens';
import { rulesDatabase } from './database/database';
import { BuildStarter } from './builds/build-starter.service';
import { ManualBuilds } from './builds/manual-builds.service';
import { CodeSourceEntity } from './sources/code-source.entity';
import { SourcesController } from './sources/sources.controller';
import { SourcesService } from './sources/sources.service';
import { RegistryEntity } from './registries/registry.entity';
import { RegistriesController } from './registries/registries.controller';
import { RegistriesService } from './registries/registries.service';
import { HostsController } from './hosts/hosts.controller';
import { HostsService } from './hosts/hosts.service';
import { BuildRuleEntity } from './rules/build-rule.entity';
import { RulesController } from './rules/rules.controller';
import { RulesService } from './rules/rules.service';
import { PushHandler } from './pushes/push-handler.service';
import { EventsController } from './pushes/events.controller';
import { EventsService } from './pushes/events.service';

export class RulesAppModule {
  static forConfig(config: RulesConfig, logger: JsonLogger) {
    @Module({
      imports: [
        PlatformModule.forRoot({ service: 'rules-service', config, logger, events: true, rpcClient: true }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(config.KILN_DATABASE_URL, rulesDatabase),
          dataSourceFactory: (options) => openDatabase(options ?? dataSourceOptions(config.KILN_DATABASE_URL, rulesDatabase), rulesDatabase.schema),
        }),
        TypeOrmModule.forFeature([CodeSourceEntity, BuildRuleEntity, RegistryEntity]),
      ],
      controllers: [HealthController, SourcesController, HostsController, RulesController, EventsController, RegistriesController],
      providers: [
        { provide: SECRET_BOX, useValue: new SecretBox(config.KILN_SECRET_KEY) },
        {
          provide: TEMPORAL_CLIENT,
          useFactory: async () => {
            const connection = await Connection.connect(temporalConnectionOptions(config));
            return new Client({ connection, namespace: config.KILN_TEMPORAL_NAMESPACE });
          },
        },
        {
          provide: HEALTH_CHECKS,
          inject: [EventBus, DataSource, TEMPORAL_CLIENT],
          useFactory: (bus: EventBus, db: DataSource, temporal: Client): HealthCheck[] => [
            natsHealthCheck(bus),
            { name: 'postgres', check: async () => void (await db.query('SELECT 1')) },
            { name: 'temporal', check: async () => void (await (temporal.connection as Connection).healthService.check({})) },
          ],
        },
        SourcesService,
        RegistriesService,
        HostsService,
        RulesService,
        BuildStarter,
        ManualBuilds,
        PushHandler,
        EventsService,
      ],
    })
    class RulesAppModuleImpl {}
    return RulesAppModuleImpl;
  }
}
