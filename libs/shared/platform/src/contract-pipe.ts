import { applyDecorators, PipeTransform, UsePipes } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import type { z } from 'zod';
import type { RpcDef } from '@kiln/contracts';
import { parseInput } from './validation';

/** Parses a value through a schema; what fails is refused as a 400 naming each failing field. */
export class SchemaPipe<T> implements PipeTransform<unknown, T> {
  constructor(
    private readonly schema: z.ZodType<T, z.ZodTypeDef, unknown>,
    private readonly whole = '(request)',
  ) {}

  transform(value: unknown): T {
    return parseInput(this.schema, value ?? {}, '', this.whole);
  }
}

/** Query parameters: strings on the wire, where an empty one (`?limit=`) reads as absent. */
export function withoutEmpty(query: unknown): unknown {
  if (typeof query !== 'object' || query === null) return query;
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''));
}

/** `@Query(new QueryPipe(schema))`: the query parsed through its contract schema; a wrong parameter is a 400 naming it. */
export class QueryPipe<T> extends SchemaPipe<T> {
  override transform(value: unknown): T {
    return super.transform(withoutEmpty(value));
  }
}

/** Parses a request through its contract's schema. */
export class ContractPipe<Req> extends SchemaPipe<Req> {
  constructor(def: RpcDef<Req, unknown>) {
    super(def.request);
  }
}

/**
 * `@Handles(rulesGet)` on a handler whose only parameter is `@Payload()`: answers the contract's pattern, with the
 * request parsed through its schema first (the handler never sees a request that fails it).
 */
export const Handles = <Req>(def: RpcDef<Req, unknown>) => applyDecorators(MessagePattern(def.pattern), UsePipes(new ContractPipe(def)));
