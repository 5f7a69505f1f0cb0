import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  buildsCancel,
  buildsRebuild,
  buildsStart,
  RequestOf,
  rulesBuildSecrets,
  rulesCreate,
  rulesRetention,
  rulesDelete,
  rulesGet,
  rulesList,
  rulesPreview,
  rulesPreviewDraft,
  rulesSetAutoTrigger,
  rulesUpdate,
} from '@kiln/contracts';
import { Handles } from '@kiln/platform';
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

  @Handles(rulesCreate)
  create(@Payload() req: RequestOf<typeof rulesCreate>) {
    return this.rules.create(req.namespace, req.imageRepository, req.rule);
  }

  @Handles(rulesList)
  list(@Payload() req: RequestOf<typeof rulesList>) {
    return this.rules.list(req);
  }

  @Handles(rulesGet)
  get(@Payload() req: RequestOf<typeof rulesGet>) {
    return this.rules.get(req.id);
  }

  @Handles(rulesUpdate)
  update(@Payload() req: RequestOf<typeof rulesUpdate>) {
    return this.rules.update(req.id, req.patch);
  }

  @Handles(rulesDelete)
  delete(@Payload() req: RequestOf<typeof rulesDelete>) {
    return this.rules.delete(req.id);
  }

  @Handles(rulesSetAutoTrigger)
  autoTrigger(@Payload() req: RequestOf<typeof rulesSetAutoTrigger>) {
    return this.rules.setAutoTrigger(req.id, req.enabled);
  }

  @Handles(rulesPreview)
  preview(@Payload() req: RequestOf<typeof rulesPreview>) {
    return this.rules.preview(req.id, req.ref, req.commit);
  }

  @Handles(rulesPreviewDraft)
  previewDraft(@Payload() req: RequestOf<typeof rulesPreviewDraft>) {
    return this.rules.previewDraft(req.namespace, req.imageRepository, req.rule, req.ref, req.commit);
  }

  @Handles(rulesBuildSecrets)
  buildSecrets(@Payload() req: RequestOf<typeof rulesBuildSecrets>) {
    return this.rules.buildSecrets(req.ruleId, Array.isArray(req.names) ? req.names.map(String) : []);
  }

  @Handles(rulesRetention)
  retention() {
    return this.rules.retentionPolicies();
  }

  @Handles(buildsStart)
  buildNow(@Payload() req: RequestOf<typeof buildsStart>) {
    return this.manual.start(req);
  }

  @Handles(buildsRebuild)
  rebuild(@Payload() req: RequestOf<typeof buildsRebuild>) {
    return this.manual.rebuild(req);
  }

  @Handles(buildsCancel)
  cancel(@Payload() req: RequestOf<typeof buildsCancel>) {
    return this.starter.cancel(req.workflowId);
  }
}
