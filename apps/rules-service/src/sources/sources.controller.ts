import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { sourcesCreate, sourcesCredentials, sourcesDelete, sourcesGet, sourcesList, sourcesUpdate, sourcesWebhookConfig, RequestOf } from '@kiln/contracts';
import { Handles } from '@kiln/platform';
import { SourcesService } from './sources.service';

@Controller()
export class SourcesController {
  constructor(private readonly sources: SourcesService) {}

  @Handles(sourcesCreate)
  create(@Payload() req: RequestOf<typeof sourcesCreate>) {
    return this.sources.create(req);
  }

  @Handles(sourcesList)
  list() {
    return this.sources.list();
  }

  @Handles(sourcesGet)
  get(@Payload() req: RequestOf<typeof sourcesGet>) {
    return this.sources.get(req.id);
  }

  @Handles(sourcesWebhookConfig)
  webhookConfig(@Payload() req: RequestOf<typeof sourcesWebhookConfig>) {
    return this.sources.webhookConfig(req.id);
  }

  @Handles(sourcesCredentials)
  credentials(@Payload() req: RequestOf<typeof sourcesCredentials>) {
    return this.sources.credentials(req.id);
  }

  @Handles(sourcesUpdate)
  update(@Payload() req: RequestOf<typeof sourcesUpdate>) {
    return this.sources.update(req.id, req.patch);
  }

  @Handles(sourcesDelete)
  delete(@Payload() req: RequestOf<typeof sourcesDelete>) {
    return this.sources.delete(req.id);
  }
}
