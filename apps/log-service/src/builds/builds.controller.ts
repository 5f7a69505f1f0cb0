import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { buildsDelete, buildsGet, buildsRecordQueued, buildsList, logsList, logsRetentionRun, logsSearch, RequestOf } from '@kiln/contracts';
import { Handles } from '@kiln/platform';
import { RetentionService } from '../retention/retention.service';
import { LogsService } from '../logs/logs.service';
import { BuildsService } from './builds.service';

@Controller()
export class BuildsController {
  constructor(
    private readonly builds: BuildsService,
    private readonly logs: LogsService,
    private readonly retention: RetentionService,
  ) {}

  @Handles(logsSearch)
  search(@Payload() q: RequestOf<typeof logsSearch>) {
    return this.logs.search(q);
  }

  @Handles(logsRetentionRun)
  runRetention() {
    return this.retention.run();
  }

  @Handles(buildsList)
  list(@Payload() q: RequestOf<typeof buildsList>) {
    return this.builds.list(q);
  }

  @Handles(buildsGet)
  get(@Payload() q: RequestOf<typeof buildsGet>) {
    return this.builds.get(q.id);
  }

  @Handles(logsList)
  lines(@Payload() q: RequestOf<typeof logsList>) {
    return this.logs.list(q);
  }

  @Handles(buildsRecordQueued)
  async recordQueued(@Payload() report: RequestOf<typeof buildsRecordQueued>) {
    await this.builds.applyStatus(report);
    return { recorded: true as const };
  }

  @Handles(buildsDelete)
  delete(@Payload() q: RequestOf<typeof buildsDelete>) {
    return this.builds.delete(q.id);
  }
}
