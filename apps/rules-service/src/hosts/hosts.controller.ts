import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { oauthCallback, oauthStart, RequestOf, sourcesRefs, sourcesRepositories } from '@kiln/contracts';
import { Handles } from '@kiln/platform';
import { HostsService } from './hosts.service';

/** What a source's host says through its REST API (repositories, branches, tags), and the OAuth flow. */
@Controller()
export class HostsController {
  constructor(private readonly hosts: HostsService) {}

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
    return this.hosts.oauthStart(req);
  }

  @Handles(oauthCallback)
  oauthCallback(@Payload() req: RequestOf<typeof oauthCallback>) {
    return this.hosts.oauthCallback(req);
  }
}
