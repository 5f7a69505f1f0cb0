import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import {
  BuildRuleInput,
  buildsCancel,
  buildsRebuild,
  buildsDelete,
  buildsGet,
  buildsList,
  BuildsQuery,
  buildsStart,
  CreateSourceRequest,
  eventsGet,
  eventsList,
  eventsRedeliver,
  logsList,
  logsPage,
  oauthCallback,
  oauthStart,
  OAuthStartRequest,
  sourcesRefs,
  sourcesRepositories,
  logsRetentionRun,
  logsSearch,
  LogsQuery,
  rulesCreate,
  rulesDelete,
  rulesGet,
  rulesList,
  rulesPreview,
  rulesSetAutoTrigger,
  rulesUpdate,
  sourcesCreate,
  sourcesDelete,
  sourcesGet,
  sourcesList,
  sourcesUpdate,
  UpdateSourceRequest,
} from '@kiln/contracts';
import { KilnError } from '@kiln/domain';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize, namespaceOf } from '../auth/authorize';
import { TokensService } from '../auth/tokens.service';
import { logFilters, logPageQuery, num } from './log-pages';
import { Rpc } from './rpc.service';

const FOLLOW_POLL_MS = 250;
const FOLLOW_SETTLE_MS = 1000;

const obj = <T>(body: unknown): T => (typeof body === 'object' && body !== null ? body : {}) as T;
/** A whole-number query parameter; anything else is a 400 naming it (NaN would silently travel as null). */
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

@ApiTags('build rules')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class RulesApiController {
  constructor(private readonly rpc: Rpc) {}

  @Post('namespaces/:ns/repositories/:repo/build-rules')
  @HttpCode(201)
  create(@Req() req: AuthedRequest, @Param('ns') namespace: string, @Param('repo') imageRepository: string, @Body() body: BuildRuleInput) {
    authorize(req.token, namespace, 'write');
    return this.rpc.call(rulesCreate, { namespace, imageRepository, rule: obj(body) });
  }

  @Get('namespaces/:ns/repositories/:repo/build-rules')
  list(@Req() req: AuthedRequest, @Param('ns') namespace: string, @Param('repo') imageRepository: string, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    authorize(req.token, namespace, 'read');
    return this.rpc.call(rulesList, { namespace, imageRepository, cursor, limit: num(limit, 'limit') });
  }

  @Get('build-rules/:id')
  async get(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.ruleFor(req, id, 'read');
  }

  @Patch('build-rules/:id')
  async update(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: Partial<BuildRuleInput>) {
    await this.ruleFor(req, id, 'write');
    return this.rpc.call(rulesUpdate, { id, patch: obj(body) });
  }

  @Delete('build-rules/:id')
  async delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    await this.ruleFor(req, id, 'write');
    return this.rpc.call(rulesDelete, { id });
  }

  @Put('build-rules/:id/auto-trigger')
  async autoTrigger(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: { enabled: boolean }) {
    await this.ruleFor(req, id, 'write');
    return this.rpc.call(rulesSetAutoTrigger, { id, enabled: obj<{ enabled: boolean }>(body).enabled });
  }

  @Post('build-rules/:id/preview')
  @HttpCode(200)
  async preview(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: { ref: string; commit: string }) {
    await this.ruleFor(req, id, 'read');
    const b = obj<{ ref: string; commit: string }>(body);
    return this.rpc.call(rulesPreview, { id, ref: b.ref, commit: b.commit });
  }

  @Post('build-rules/:id/builds')
  @HttpCode(202)
  async buildNow(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: { branch?: string; tag?: string; commit?: string }) {
    await this.ruleFor(req, id, 'write');
    const b = obj<{ branch?: string; tag?: string; commit?: string }>(body);
    return this.rpc.call(buildsStart, { ruleId: id, branch: b.branch, tag: b.tag, commit: b.commit, by: req.token?.name ?? 'unknown' });
  }

  private async ruleFor(req: AuthedRequest, id: string, role: 'read' | 'write') {
    authorize(req.token, null, 'read');
    const rule = await this.rpc.call(rulesGet, { id });
    authorize(req.token, rule.namespace, role);
    return rule;
  }
}

@ApiTags('builds')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/builds')
export class BuildsApiController {
  constructor(private readonly rpc: Rpc) {}

  @Get()
  list(@Req() req: AuthedRequest, @Query() q: Record<string, string>) {
    authorize(req.token, null, 'read');
    const query: BuildsQuery = {
      ruleId: q.ruleId,
      imageRepository: q.repository ?? q.imageRepository,
      namespaces: req.token?.namespaces,
      status: q.status as BuildsQuery['status'],
      ref: q.ref,
      triggerKind: q.triggerKind as BuildsQuery['triggerKind'],
      rebuildOf: q.rebuildOf,
      since: q.since,
      until: q.until,
      cursor: q.cursor,
      limit: num(q.limit, 'limit'),
    };
    return this.rpc.call(buildsList, query);
  }

  @Get(':id')
  async get(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.buildFor(req, id, 'read');
  }

  /**
   * The log: cursor pages (`cursor`, `limit`), `tail=N`, filters (`step`, `stream`, `attempt`, `contains`);
   * `format=text` downloads it whole as plain text; `follow=true` streams it as server-sent events while the build
   * runs, resumes after `Last-Event-ID` (a line id), and ends with the build's final status.
   */
  @Get(':id/logs')
  async logs(@Req() req: AuthedRequest, @Res() res: Response, @Param('id') buildId: string, @Query() q: Record<string, string>) {
    // log-service checks the build's namespace against the token's in the same call (one round trip per page).
    authorize(req.token, null, 'read');
    const filters = logFilters(buildId, q, req.token);
    if (q.follow === 'true') {
      await this.buildFor(req, buildId, 'read');
      return this.follow(req, res, filters, (req.headers['last-event-id'] as string | undefined) ?? q.cursor);
    }
    if (q.format === 'text') {
      await this.rpc.call(logsList, { ...filters, limit: 1 }); // refused builds answer before the download starts
      res.status(200).type('text/plain; charset=utf-8').setHeader('Content-Disposition', `attachment; filename="build-${buildId}.log"`);
      let cursor: string | undefined;
      do {
        const page = await this.rpc.call(logsList, { ...filters, cursor, limit: 5000 });
        for (const l of page.items) res.write(`${l.time} ${l.step}#${l.attempt} ${l.stream}: ${l.text}\n`);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      res.end();
      return;
    }
    // log-service answers with the page's JSON, sent on as it is (no parse and serialize again here).
    const page = await this.rpc.bytes(logsPage, logPageQuery(buildId, q, req.token));
    res
      .status(page.status)
      .type('application/json; charset=utf-8')
      .end(Buffer.from(page.body.buffer, page.body.byteOffset, page.body.byteLength));
  }

  private async follow(req: AuthedRequest, res: Response, filters: Omit<LogsQuery, 'cursor'>, from: string | undefined): Promise<void> {
    res.status(200).setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    let closed = false;
    req.on('close', () => (closed = true));
    try {
      await this.followLoop(res, filters, from && /^\d+$/.test(from) ? from : undefined, () => closed);
    } finally {
      res.end();
    }
  }

  @Delete(':id')
  async delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    await this.buildFor(req, id, 'write');
    return this.rpc.call(buildsDelete, { id });
  }

  /** Stops a queued or running build; a finished one is a 409. */
  @Post(':id/cancel')
  @HttpCode(202)
  async cancel(@Req() req: AuthedRequest, @Param('id') id: string) {
    const build = await this.buildFor(req, id, 'write');
    if (['succeeded', 'failed', 'cancelled'].includes(build.status)) throw new KilnError(409, 'Conflict', `build ${id} already ${build.status}`);
    return this.rpc.call(buildsCancel, { workflowId: build.workflowId });
  }

  /**
   * Runs a finished build again (a failed one after fixing its cause, say): a new build with the rule as it is now and
   * the same ref and commit, linked to this one (`rebuildOf`), with its own record, tags and workflow.
   */
  @Post(':id/rebuild')
  @HttpCode(202)
  async rebuild(@Req() req: AuthedRequest, @Param('id') id: string) {
    const build = await this.buildFor(req, id, 'write');
    if (!['succeeded', 'failed', 'cancelled'].includes(build.status)) throw new KilnError(409, 'Conflict', `build ${id} is ${build.status}; wait for it to finish (or cancel it) before rebuilding it`);
    if (build.ruleDeleted) throw new KilnError(409, 'Conflict', `build ${id} cannot be rebuilt: its rule was deleted; create a rule and use build now`);
    return this.rpc.call(buildsRebuild, { of: build.id, ruleId: build.ruleId, ref: build.ref, commit: build.commit, by: req.token?.name ?? 'unknown' });
  }

  private async buildFor(req: AuthedRequest, id: string, role: 'read' | 'write') {
    authorize(req.token, null, 'read');
    const build = await this.rpc.call(buildsGet, { id });
    authorize(req.token, namespaceOf(build.imageRepository), role);
    return build;
  }

  /** Pages new lines by id until the build is over and its log has gone quiet, then sends the final status. */
  private async followLoop(res: Response, filters: Omit<LogsQuery, 'cursor'>, from: string | undefined, closed: () => boolean): Promise<void> {
    let cursor = from;
    let terminalSince: number | null = null;
    let lastBeat = Date.now();
    while (!closed()) {
      const page = await this.rpc.call(logsList, { ...filters, cursor, limit: 1000 });
      for (const l of page.items) res.write(`id: ${l.id}\nevent: line\ndata: ${JSON.stringify(l)}\n\n`);
      if (page.items.length > 0) cursor = page.items[page.items.length - 1].id;
      if (page.nextCursor) continue;
      const build = await this.rpc.call(buildsGet, { id: filters.buildId });
      if (['succeeded', 'failed', 'cancelled'].includes(build.status)) {
        // Lines and status travel on separate streams: after the final status, wait for the log to go quiet.
        terminalSince ??= Date.now();
        if (page.items.length === 0 && Date.now() - terminalSince > FOLLOW_SETTLE_MS) {
          res.write(`event: status\ndata: ${JSON.stringify({ status: build.status, failure: build.failure, tags: build.tags, digest: build.digest })}\n\n`);
          return;
        }
      }
      if (Date.now() - lastBeat > 15_000) {
        res.write(': keep-alive\n\n');
        lastBeat = Date.now();
      }
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    }
  }
}

@ApiTags('tokens')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/tokens')
export class TokensApiController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @HttpCode(201)
  create(@Req() req: AuthedRequest, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.tokens.create(obj(body));
  }

  @Get()
  list(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'admin');
    return this.tokens.list();
  }

  @Delete(':id')
  delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'admin');
    return this.tokens.delete(id);
  }
}

@ApiTags('events')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/events')
export class EventsApiController {
  constructor(private readonly rpc: Rpc) {}

  /** The ledger spans sources, which belong to no namespace: tokens for every namespace only. */
  @Get()
  list(@Req() req: AuthedRequest, @Query() q: Record<string, string>) {
    authorize(req.token, '*', 'read');
    return this.rpc.call(eventsList, { sourceId: q.sourceId, repository: q.repository, outcome: q.outcome, since: q.since, until: q.until, cursor: q.cursor, limit: num(q.limit, 'limit') });
  }

  @Get(':id')
  get(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, '*', 'read');
    return this.rpc.call(eventsGet, { id });
  }

  @Post(':id/redeliver')
  @HttpCode(200)
  redeliver(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, '*', 'write');
    return this.rpc.call(eventsRedeliver, { id });
  }
}

@ApiTags('logs')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class LogsApiController {
  constructor(private readonly rpc: Rpc) {}

  /** Lines containing `contains` across the builds of a rule (`ruleId`) or an image repository (`repository`), newest first. */
  @Get('logs/search')
  search(@Req() req: AuthedRequest, @Query() q: Record<string, string>) {
    authorize(req.token, null, 'read');
    return this.rpc.call(logsSearch, {
      contains: q.contains,
      ruleId: q.ruleId,
      imageRepository: q.repository ?? q.imageRepository,
      namespaces: req.token?.namespaces,
      since: q.since,
      until: q.until,
      cursor: q.cursor,
      limit: num(q.limit, 'limit'),
    });
  }

  /** Apply the retention policies now (the job also runs on its own schedule). */
  @Post('admin/retention/run')
  @HttpCode(200)
  runRetention(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(logsRetentionRun, {});
  }
}
