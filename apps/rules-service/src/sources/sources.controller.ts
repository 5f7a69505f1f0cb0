import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  oauthCallback,
  oauthStart,
  sourcesCreate,
  sourcesCredentials,
  sourcesDelete,
  sourcesGet,
  sourcesList,
  sourcesRefs,
  sourcesRepositories,
  sourcesUpdate,
  sourcesWebhookConfig,
  RequestOf,
} from '@kiln/contracts';
import { Handles } from '@kiln/platform';
import { HostsService } from '../hosts/hosts.service';
import { SourcesService } from './sources.service';

@Controller()
export class SourcesController {
  constructor(
    private readonly sources: SourcesService,
    private readonly hosts: HostsService,
  ) {}

  @Handles(sourcesRepositories)
  repositories(@Payload() req: RequestOf<typeof sourcesRepositories>) {
    return this.hosts.repositories(req.id, req.cursor, req.limit);
  }

  @Handles(sourcesRefs)
  refs(@Payload() req: RequestOf<typeof sourcesRefs>) {
    return this.hosts.refs(req.id, String(req.repo ?? ''), req.kind === 'tags' ? 'tags' : 'branches', req.cursor, req.limit);
  }

  @Handles(oauthStart)
  oauthStart(@Payload() req: RequestOf<typeof oauthStart>) {
    return this.hosts.oauthStart(req ?? { provider: '' });
  }

  @Handles(oauthCallback)
  oauthCallback(@Payload() req: RequestOf<typeof oauthCallback>) {
    return this.hosts.oauthCallback(req ?? {});
  }

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
