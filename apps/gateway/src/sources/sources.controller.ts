import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import {
  CreateSourceRequest,
  oauthCallback,
  oauthStart,
  OAuthStartRequest,
  sourcesRefs,
  sourcesRepositories,
  sourcesCreate,
  sourcesDelete,
  sourcesGet,
  sourcesList,
  sourcesUpdate,
  UpdateSourceRequest,
} from '@kiln/contracts';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import { obj, num } from '../common/params';

@ApiTags('sources')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/sources')
export class SourcesApiController {
  constructor(private readonly rpc: Rpc) {}

  @Post()
  @HttpCode(201)
  create(@Req() req: AuthedRequest, @Body() body: CreateSourceRequest) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(sourcesCreate, obj(body));
  }

  @Get()
  list(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesList, {});
  }

  @Get(':id')
  get(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesGet, { id });
  }

  @Patch(':id')
  update(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: UpdateSourceRequest) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(sourcesUpdate, { id, patch: obj(body) });
  }

  @Delete(':id')
  delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(sourcesDelete, { id });
  }

  /** Repositories the source's credentials can see on the host (cursor paging). */
  @Get(':id/repositories')
  repositories(@Req() req: AuthedRequest, @Param('id') id: string, @Query() q: Record<string, string>) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesRepositories, { id, cursor: q.cursor, limit: num(q.limit, 'limit') });
  }

  /** `repo` is URL-encoded `owner/name` (or the git URL of a `git` source). */
  @Get(':id/repositories/:repo/branches')
  branches(@Req() req: AuthedRequest, @Param('id') id: string, @Param('repo') repo: string, @Query() q: Record<string, string>) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesRefs, { id, repo, kind: 'branches', cursor: q.cursor, limit: num(q.limit, 'limit') });
  }

  @Get(':id/repositories/:repo/tags')
  tags(@Req() req: AuthedRequest, @Param('id') id: string, @Param('repo') repo: string, @Query() q: Record<string, string>) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesRefs, { id, repo, kind: 'tags', cursor: q.cursor, limit: num(q.limit, 'limit') });
  }

  /**
   * Start the host's OAuth authorization-code flow: send the user to `authorizeUrl`; the host sends them back to
   * `/api/v1/oauth/callback`, which stores the token as a new source (or renews `sourceId`'s).
   */
  @Post('oauth/:provider')
  @HttpCode(200)
  oauthStart(@Req() req: AuthedRequest, @Param('provider') provider: string, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(oauthStart, { ...obj<OAuthStartRequest>(body), provider });
  }
}

/** The hosts redirect the user's browser here: no bearer token; the single-use state is the proof. */

@ApiTags('sources')
@Controller('api/v1/oauth')
export class OAuthCallbackController {
  constructor(private readonly rpc: Rpc) {}

  @Get('callback')
  callback(@Query() q: Record<string, string>) {
    return this.rpc.call(oauthCallback, { code: q.code, state: q.state, error: q.error, error_description: q.error_description });
  }
}
