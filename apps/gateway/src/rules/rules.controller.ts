import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import {
  autoTriggerBodySchema,
  buildNowBodySchema,
  buildRuleInputSchema,
  buildRulePatchSchema,
  buildsStart,
  previewBodySchema,
  rulesCreate,
  rulesDelete,
  rulesGet,
  rulesList,
  rulesListParamsSchema,
  allRulesParamsSchema,
  rulesPreview,
  rulesPreviewDraft,
  previewDraftBodySchema,
  rulesSetAutoTrigger,
  rulesUpdate,
} from '@kiln/contracts';
import type { z } from 'zod';
import { Endpoint, QueryPipe } from '@kiln/platform';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import { obj } from '../common/params';

@ApiTags('build rules')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class RulesApiController {
  constructor(private readonly rpc: Rpc) {}

  @Post('namespaces/:ns/repositories/:repo/build-rules')
  @HttpCode(201)
  @Endpoint({ summary: 'Create a build rule for image repository ns/repo', body: buildRuleInputSchema, response: rulesCreate.response, status: 201, errors: [404, 422] })
  create(@Req() req: AuthedRequest, @Param('ns') namespace: string, @Param('repo') imageRepository: string, @Body() body: unknown) {
    authorize(req.token, namespace, 'write');
    return this.rpc.call(rulesCreate, { namespace, imageRepository, rule: obj(body) });
  }

  @Post('namespaces/:ns/repositories/:repo/build-rules/preview')
  @HttpCode(200)
  @Endpoint({ summary: 'The preview of a rule not saved yet: would a ref fire it, and the exact tag (nothing is written)', body: previewDraftBodySchema, response: rulesPreviewDraft.response })
  previewDraft(@Req() req: AuthedRequest, @Param('ns') namespace: string, @Param('repo') imageRepository: string, @Body() body: unknown) {
    authorize(req.token, namespace, 'read');
    const b = obj<{ rule?: unknown; ref?: string; commit?: string }>(body);
    return this.rpc.call(rulesPreviewDraft, { namespace, imageRepository, rule: obj(b.rule), ref: String(b.ref ?? ''), commit: String(b.commit ?? '') });
  }

  @Get('namespaces/:ns/repositories/:repo/build-rules')
  @Endpoint({ summary: "The image repository's build rules", query: rulesListParamsSchema, response: rulesList.response })
  list(@Req() req: AuthedRequest, @Param('ns') namespace: string, @Param('repo') imageRepository: string, @Query(new QueryPipe(rulesListParamsSchema)) q: z.output<typeof rulesListParamsSchema>) {
    authorize(req.token, namespace, 'read');
    return this.rpc.call(rulesList, { namespace, imageRepository, cursor: q.cursor, limit: q.limit });
  }

  /** Every rule the token may see, ordered by image repository: the console's list of image repositories. */
  @Get('build-rules')
  @Endpoint({ summary: 'Rules across image repositories (one namespace, or all for a token with every namespace)', query: allRulesParamsSchema, response: rulesList.response })
  listAll(@Req() req: AuthedRequest, @Query(new QueryPipe(allRulesParamsSchema)) q: z.output<typeof allRulesParamsSchema>) {
    authorize(req.token, q.namespace ?? '*', 'read');
    return this.rpc.call(rulesList, { namespace: q.namespace, cursor: q.cursor, limit: q.limit });
  }

  @Get('build-rules/:id')
  @Endpoint({ response: rulesGet.response, errors: [404] })
  async get(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.ruleFor(req, id, 'read');
  }

  @Patch('build-rules/:id')
  @Endpoint({ summary: 'Change some fields of a rule (the rule it makes is checked whole)', body: buildRulePatchSchema, response: rulesUpdate.response, errors: [404, 422] })
  async update(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown) {
    await this.ruleFor(req, id, 'write');
    return this.rpc.call(rulesUpdate, { id, patch: obj(body) });
  }

  @Delete('build-rules/:id')
  @Endpoint({ summary: 'Delete a rule (its builds stay readable)', response: rulesDelete.response, errors: [404] })
  async delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    await this.ruleFor(req, id, 'write');
    return this.rpc.call(rulesDelete, { id });
  }

  @Put('build-rules/:id/auto-trigger')
  @Endpoint({ summary: 'Turn building on push on or off', body: autoTriggerBodySchema, response: rulesSetAutoTrigger.response, errors: [404] })
  async autoTrigger(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown) {
    await this.ruleFor(req, id, 'write');
    return this.rpc.call(rulesSetAutoTrigger, { id, enabled: obj<{ enabled: boolean }>(body).enabled });
  }

  @Post('build-rules/:id/preview')
  @HttpCode(200)
  @Endpoint({ summary: 'Would a push of this ref fire the rule, and with which exact tag', body: previewBodySchema, response: rulesPreview.response, errors: [404] })
  async preview(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown) {
    await this.ruleFor(req, id, 'read');
    const b = obj<{ ref: string; commit: string }>(body);
    return this.rpc.call(rulesPreview, { id, ref: b.ref, commit: b.commit });
  }

  @Post('build-rules/:id/builds')
  @HttpCode(202)
  @Endpoint({ summary: 'Build now: a branch, tag or commit (auto-trigger off or not)', body: buildNowBodySchema, response: buildsStart.response, status: 202, errors: [404, 409, 422] })
  async buildNow(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown) {
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
