import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { oauthCallback, oauthStart, sourcesCreate, sourcesCredentials, sourcesDelete, sourcesGet, sourcesList, sourcesRefs, sourcesRepositories, sourcesUpdate, sourcesWebhookConfig, RequestOf } from '@kiln/contracts';
import { HostsService } from '../hosts/hosts.service';
import { SourcesService } from './sources.service';

@Controller()
export class SourcesController {
  constructor(
    private readonly sources: SourcesService,
    private readonly hosts: HostsService,
  ) {}

  @MessagePattern(sourcesRepositories.pattern)
  repositories(@Payload() req: RequestOf<typeof sourcesRepositories>) {
    return this.hosts.repositories(req.id, req.cursor, req.limit);
  }

  @MessagePattern(sourcesRefs.pattern)
  refs(@Payload() req: RequestOf<typeof sourcesRefs>) {
    return this.hosts.refs(req.id, String(req.repo ?? ''), req.kind === 'tags' ? 'tags' : 'branches', req.cursor, req.limit);
  }

  @MessagePattern(oauthStart.pattern)
  oauthStart(@Payload() req: RequestOf<typeof oauthStart>) {
    return this.hosts.oauthStart(req ?? { provider: '' });
  }

  @MessagePattern(oauthCallback.pattern)
  oauthCallback(@Payload() req: RequestOf<typeof oauthCallback>) {
    return this.hosts.oauthCallback(req ?? {});
  }

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
