import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RequestOf, rulesCreate, rulesGet, rulesList } from '@kiln/contracts';
import { RulesService } from './rules.service';

@Controller()
export class RulesController {
  constructor(private readonly rules: RulesService) {}

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
}
