import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { BuildRuleInput, buildsStart, rulesCreate, rulesDelete, rulesGet, rulesList, rulesPreview, rulesSetAutoTrigger, rulesUpdate } from '@kiln/contracts';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import { obj, num } from '../common/params';

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
