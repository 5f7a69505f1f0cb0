import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { buildsDelete, buildsGet, buildsList, logsList, logsRetentionRun, logsSearch, RequestOf } from '@kiln/contracts';
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

  @MessagePattern(logsSearch.pattern)
  search(@Payload() q: RequestOf<typeof logsSearch>) {
    return this.logs.search(q ?? ({} as RequestOf<typeof logsSearch>));
  }

  @MessagePattern(logsRetentionRun.pattern)
  runRetention() {
    return this.retention.run();
  }

  @MessagePattern(buildsList.pattern)
  list(@Payload() q: RequestOf<typeof buildsList>) {
    return this.builds.list(q ?? {});
  }

  @MessagePattern(buildsGet.pattern)
  get(@Payload() q: RequestOf<typeof buildsGet>) {
    return this.builds.get(q.id);
  }

  @MessagePattern(logsList.pattern)
  lines(@Payload() q: RequestOf<typeof logsList>) {
    return this.logs.list(q);
  }

  @MessagePattern(buildsDelete.pattern)
  delete(@Payload() q: RequestOf<typeof buildsDelete>) {
    return this.builds.delete(q.id);
  }
}
