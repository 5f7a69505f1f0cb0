import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import {
  BuildRuleInput,
  buildsCancel,
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
  StepName,
  UpdateSourceRequest,
} from '@kiln/contracts';
import { KilnError } from '@kiln/domain';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize, namespaceOf } from '../auth/authorize';
import { TokensService } from '../auth/tokens.service';
import { Rpc } from './rpc.service';

const obj = <T>(body: unknown): T => (typeof body === 'object' && body !== null ? body : {}) as T;
const num = (v?: string): number | undefined => (v === undefined ? undefined : Number(v));

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
    return this.rpc.call(rulesList, { namespace, imageRepository, cursor, limit: num(limit) });
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
      since: q.since,
      until: q.until,
      cursor: q.cursor,
      limit: num(q.limit),
    };
    return this.rpc.call(buildsList, query);
  }

  @Get(':id')
  async get(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.buildFor(req, id, 'read');
  }

  @Get(':id/logs')
  async logs(@Req() req: AuthedRequest, @Param('id') buildId: string, @Query('cursor') cursor?: string, @Query('limit') limit?: string, @Query('step') step?: string) {
    await this.buildFor(req, buildId, 'read');
    return this.rpc.call(logsList, { buildId, cursor, limit: num(limit), step: step as StepName | undefined });
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

  private async buildFor(req: AuthedRequest, id: string, role: 'read' | 'write') {
    authorize(req.token, null, 'read');
    const build = await this.rpc.call(buildsGet, { id });
    authorize(req.token, namespaceOf(build.imageRepository), role);
    return build;
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
    return this.rpc.call(eventsList, { sourceId: q.sourceId, repository: q.repository, outcome: q.outcome, since: q.since, until: q.until, cursor: q.cursor, limit: num(q.limit) });
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
