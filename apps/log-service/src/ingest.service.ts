import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { buildLogV1, buildStatusV1, ruleDeletedV1 } from '@kiln/contracts';
import { EventBus, JsonLogger, KILN_CONFIG } from '@kiln/platform';
import { BuildsService } from './builds/builds.service';
import { LogConfig } from './config';
import { LogsService } from './logs/logs.service';

/** Durable consumers of build status and log chunks; each batch is acked only after its transaction commits. */
@Injectable()
export class IngestService implements OnApplicationBootstrap {
  constructor(
    private readonly bus: EventBus,
    private readonly builds: BuildsService,
    private readonly logs: LogsService,
    private readonly logger: JsonLogger,
    @Inject(KILN_CONFIG) private readonly config: LogConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.consume(buildStatusV1, 'log-service-status', (report) => this.builds.applyStatus(report));
    await this.bus.consume(ruleDeletedV1, 'log-service-rule-deletions', (event) => this.builds.markRuleDeleted(event.ruleId));
    await this.bus.consumeBatches(
      buildLogV1,
      'log-service-lines',
      async (batch) => {
        const n = await this.logs.insertChunks(batch.map((b) => b.payload));
        this.logger.debug({ msg: 'log lines stored', lines: n, chunks: batch.length }, 'IngestService');
      },
      { filterSubject: `${buildLogV1.subject}.>`, maxBatch: this.config.KILN_LOG_BATCH, retryInPlace: true },
    );
  }
}
