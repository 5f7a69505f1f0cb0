import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import {
  BuildRuleInput,
  buildsGet,
  buildsList,
  BuildsQuery,
  CreateSourceRequest,
  logsList,
  rulesCreate,
  rulesGet,
  rulesList,
  sourcesCreate,
  sourcesGet,
  sourcesList,
  StepName,
} from '@kiln/contracts';
import { AuthGuard } from '../auth/auth.guard';
import { Rpc } from './rpc.service';

@ApiTags('sources')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/sources')
export class SourcesApiController {
  constructor(private readonly rpc: Rpc) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: CreateSourceRequest) {
    return this.rpc.call(sourcesCreate, body ?? ({} as CreateSourceRequest));
  }

  @Get()
  list() {
    return this.rpc.call(sourcesList, {});
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.rpc.call(sourcesGet, { id });
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
  create(@Param('ns') namespace: string, @Param('repo') imageRepository: string, @Body() body: BuildRuleInput) {
    return this.rpc.call(rulesCreate, { namespace, imageRepository, rule: body ?? ({} as BuildRuleInput) });
  }

  @Get('namespaces/:ns/repositories/:repo/build-rules')
  list(@Param('ns') namespace: string, @Param('repo') imageRepository: string, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    return this.rpc.call(rulesList, { namespace, imageRepository, cursor, limit: limit ? Number(limit) : undefined });
  }

  @Get('build-rules/:id')
  get(@Param('id') id: string) {
    return this.rpc.call(rulesGet, { id });
  }
}

@ApiTags('builds')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/builds')
export class BuildsApiController {
  constructor(private readonly rpc: Rpc) {}

  @Get()
  list(@Query() q: Record<string, string>) {
    const query: BuildsQuery = {
      ruleId: q.ruleId,
      imageRepository: q.repository ?? q.imageRepository,
      status: q.status as BuildsQuery['status'],
      ref: q.ref,
      cursor: q.cursor,
      limit: q.limit ? Number(q.limit) : undefined,
    };
    return this.rpc.call(buildsList, query);
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.rpc.call(buildsGet, { id });
  }

  @Get(':id/logs')
  logs(@Param('id') buildId: string, @Query('cursor') cursor?: string, @Query('limit') limit?: string, @Query('step') step?: string) {
    return this.rpc.call(logsList, { buildId, cursor, limit: limit ? Number(limit) : undefined, step: step as StepName | undefined });
  }
}
