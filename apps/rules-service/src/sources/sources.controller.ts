import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { sourcesCreate, sourcesCredentials, sourcesDelete, sourcesGet, sourcesList, sourcesUpdate, sourcesWebhookConfig, RequestOf } from '@kiln/contracts';
import { SourcesService } from './sources.service';

@Controller()
export class SourcesController {
  constructor(private readonly sources: SourcesService) {}

  @MessagePattern(sourcesCreate.pattern)
  create(@Payload() req: RequestOf<typeof sourcesCreate>) {
    return this.sources.create(req);
  }

  @MessagePattern(sourcesList.pattern)
  list() {
    return this.sources.list();
  }

  @MessagePattern(sourcesGet.pattern)
  get(@Payload() req: RequestOf<typeof sourcesGet>) {
    return this.sources.get(req.id);
  }

  @MessagePattern(sourcesWebhookConfig.pattern)
  webhookConfig(@Payload() req: RequestOf<typeof sourcesWebhookConfig>) {
    return this.sources.webhookConfig(req.id);
  }

  @MessagePattern(sourcesCredentials.pattern)
  credentials(@Payload() req: RequestOf<typeof sourcesCredentials>) {
    return this.sources.credentials(req.id);
  }

  @MessagePattern(sourcesUpdate.pattern)
  update(@Payload() req: RequestOf<typeof sourcesUpdate>) {
    return this.sources.update(req.id, req.patch);
  }

  @MessagePattern(sourcesDelete.pattern)
  delete(@Payload() req: RequestOf<typeof sourcesDelete>) {
    return this.sources.delete(req.id);
  }
}
