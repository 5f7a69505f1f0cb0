import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { buildsCancel, buildsRebuild, buildsStart, RequestOf, rulesBuildSecrets, rulesCreate, rulesRetention, rulesDelete, rulesGet, rulesList, rulesPreview, rulesSetAutoTrigger, rulesUpdate } from '@kiln/contracts';
import { ManualBuilds } from '../builds/manual-builds.service';
import { BuildStarter } from '../builds/build-starter.service';
import { RulesService } from './rules.service';

@Controller()
export class RulesController {
  constructor(
    private readonly rules: RulesService,
    private readonly manual: ManualBuilds,
    private readonly starter: BuildStarter,
  ) {}

  @MessagePattern(rulesCreate.pattern)
  create(@Payload() req: RequestOf<typeof rulesCreate>) {
    return this.rules.create(req.namespace, req.imageRepository, req.rule);
  }

  @MessagePattern(rulesList.pattern)
  list(@Payload() req: RequestOf<typeof rulesList>) {
    return this.rules.list(req ?? {});
  }

  @MessagePattern(rulesGet.pattern)
  get(@Payload() req: RequestOf<typeof rulesGet>) {
    return this.rules.get(req.id);
  }

  @MessagePattern(rulesUpdate.pattern)
  update(@Payload() req: RequestOf<typeof rulesUpdate>) {
    return this.rules.update(req.id, req.patch);
  }

  @MessagePattern(rulesDelete.pattern)
  delete(@Payload() req: RequestOf<typeof rulesDelete>) {
    return this.rules.delete(req.id);
  }

  @MessagePattern(rulesSetAutoTrigger.pattern)
  autoTrigger(@Payload() req: RequestOf<typeof rulesSetAutoTrigger>) {
    return this.rules.setAutoTrigger(req.id, req.enabled);
  }

  @MessagePattern(rulesPreview.pattern)
  preview(@Payload() req: RequestOf<typeof rulesPreview>) {
    return this.rules.preview(req.id, req.ref, req.commit);
  }

  @MessagePattern(rulesBuildSecrets.pattern)
  buildSecrets(@Payload() req: RequestOf<typeof rulesBuildSecrets>) {
    return this.rules.buildSecrets(req.ruleId, Array.isArray(req.names) ? req.names.map(String) : []);
  }

  @MessagePattern(rulesRetention.pattern)
  retention() {
    return this.rules.retentionPolicies();
  }

  @MessagePattern(buildsStart.pattern)
  buildNow(@Payload() req: RequestOf<typeof buildsStart>) {
    return this.manual.start(req);
  }

  @MessagePattern(buildsRebuild.pattern)
  rebuild(@Payload() req: RequestOf<typeof buildsRebuild>) {
    return this.manual.rebuild(req);
  }

  @MessagePattern(buildsCancel.pattern)
  cancel(@Payload() req: RequestOf<typeof buildsCancel>) {
    return this.starter.cancel(req.workflowId);
  }
}
