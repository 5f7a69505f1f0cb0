import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EventBus, HEALTH_CHECKS, HealthCheck, HealthController, JsonLogger, natsHealthCheck, PlatformModule } from '@kiln/platform';
import { dataSourceOptions, openDatabase } from '@kiln/platform/database';
import { LogConfig } from './config';
import { logsDatabase } from './database/database';
import { BuildsController } from './builds/builds.controller';
import { BuildsService } from './builds/builds.service';
import { LogsService } from './logs/logs.service';
import { IngestService } from './ingest.service';
import { RetentionService } from './retention/retention.service';

export class LogAppModule {
  static forConfig(config: LogConfig, logger: JsonLogger) {
    @Module({
      imports: [
        PlatformModule.forRoot({ service: 'log-service', config, logger, events: true, rpcClient: true }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(config.KILN_DATABASE_URL, logsDatabase),
          dataSourceFactory: (options) => openDatabase(options ?? dataSourceOptions(config.KILN_DATABASE_URL, logsDatabase), logsDatabase.schema),
        }),
      ],
      controllers: [HealthController, BuildsController],
      providers: [
        {
          provide: HEALTH_CHECKS,
          inject: [EventBus, DataSource],
          useFactory: (bus: EventBus, db: DataSource): HealthCheck[] => [natsHealthCheck(bus), { name: 'postgres', check: async () => void (await db.query('SELECT 1')) }],
        },
        BuildsService,
        LogsService,
        IngestService,
        RetentionService,
      ],
    })
    class LogAppModuleImpl {}
    return LogAppModuleImpl;
  }
}
