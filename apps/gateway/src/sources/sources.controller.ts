import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import {
  createSourceSchema,
  hostListParamsSchema,
  oauthCallback,
  oauthCallbackParamsSchema,
  oauthStart,
  oauthStartBodySchema,
  OAuthStartRequest,
  sourcesRefs,
  sourcesRepositories,
  sourcesCreate,
  sourcesDelete,
  sourcesGet,
  sourcesList,
  sourcesUpdate,
  updateSourceSchema,
} from '@kiln/contracts';
import { Endpoint, QueryPipe } from '@kiln/platform';
import type { z } from 'zod';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import { obj } from '../common/params';

type HostListParams = z.output<typeof hostListParamsSchema>;

@ApiTags('sources')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/sources')
export class SourcesApiController {
  constructor(private readonly rpc: Rpc) {}

  @Post()
  @HttpCode(201)
  @Endpoint({ summary: 'Connect a code source (the answer carries its webhook secret, once)', body: createSourceSchema, response: sourcesCreate.response, status: 201 })
  create(@Req() req: AuthedRequest, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(sourcesCreate, obj(body));
  }

  @Get()
  @Endpoint({ response: sourcesList.response })
  list(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesList, {});
  }

  @Get(':id')
  @Endpoint({ response: sourcesGet.response, errors: [404] })
  get(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesGet, { id });
  }

  @Patch(':id')
  @Endpoint({ summary: 'Rename, or renew its credentials (an unauthorized source is ok again)', body: updateSourceSchema, response: sourcesUpdate.response, errors: [404] })
  update(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(sourcesUpdate, { id, patch: obj(body) });
  }

  @Delete(':id')
  @Endpoint({ summary: 'Delete a source (refused while rules use it, naming them)', response: sourcesDelete.response, errors: [404, 409] })
  delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(sourcesDelete, { id });
  }

  /** Repositories the source's credentials can see on the host (cursor paging). */
  @Get(':id/repositories')
  @Endpoint({ query: hostListParamsSchema, response: sourcesRepositories.response, errors: [404, 422] })
  repositories(@Req() req: AuthedRequest, @Param('id') id: string, @Query(new QueryPipe(hostListParamsSchema)) q: HostListParams) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesRepositories, { id, cursor: q.cursor, limit: q.limit });
  }

  /** `repo` is URL-encoded `owner/name` (or the git URL of a `git` source). */
  @Get(':id/repositories/:repo/branches')
  @Endpoint({ query: hostListParamsSchema, response: sourcesRefs.response, errors: [404, 422] })
  branches(@Req() req: AuthedRequest, @Param('id') id: string, @Param('repo') repo: string, @Query(new QueryPipe(hostListParamsSchema)) q: HostListParams) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesRefs, { id, repo, kind: 'branches', cursor: q.cursor, limit: q.limit });
  }

  @Get(':id/repositories/:repo/tags')
  @Endpoint({ query: hostListParamsSchema, response: sourcesRefs.response, errors: [404, 422] })
  tags(@Req() req: AuthedRequest, @Param('id') id: string, @Param('repo') repo: string, @Query(new QueryPipe(hostListParamsSchema)) q: HostListParams) {
    authorize(req.token, null, 'read');
    return this.rpc.call(sourcesRefs, { id, repo, kind: 'tags', cursor: q.cursor, limit: q.limit });
  }

  /**
   * Start the host's OAuth authorization-code flow: send the user to `authorizeUrl`; the host sends them back to
   * `/api/v1/oauth/callback`, which stores the token as a new source (or renews `sourceId`'s).
   */
  @Post('oauth/:provider')
  @HttpCode(200)
  @Endpoint({ summary: "Start the host's OAuth flow (send the user to authorizeUrl)", body: oauthStartBodySchema, response: oauthStart.response, errors: [404, 422] })
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
  @Endpoint({ summary: 'Where the host sends the browser back: stores the token as a source', query: oauthCallbackParamsSchema, response: oauthCallback.response, public: true, errors: [404, 422] })
  callback(@Query(new QueryPipe(oauthCallbackParamsSchema)) q: z.output<typeof oauthCallbackParamsSchema>) {
    return this.rpc.call(oauthCallback, q);
  }
}
