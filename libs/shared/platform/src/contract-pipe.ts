import { applyDecorators, PipeTransform, UsePipes } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import type { RpcDef } from '@kiln/contracts';
import { ValidationError } from '@kiln/domain';

/** Parses a request through its contract's schema; what fails is refused as a 400 naming each failing field. */
export class ContractPipe<Req> implements PipeTransform<unknown, Req> {
  constructor(private readonly def: RpcDef<Req, unknown>) {}

  transform(value: unknown): Req {
    const parsed = this.def.request.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    throw new ValidationError(parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(request)', message: i.message })));
  }
}

/**
 * `@Handles(rulesGet)` on a handler whose only parameter is `@Payload()`: answers the contract's pattern, with the
 * request parsed through its schema first (the handler never sees a request that fails it).
 */
export const Handles = <Req>(def: RpcDef<Req, unknown>) => applyDecorators(MessagePattern(def.pattern), UsePipes(new ContractPipe(def)));
