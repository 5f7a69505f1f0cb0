import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse, type SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import {
  buildFailureSchema,
  buildInstructionSchema,
  buildRuleViewSchema,
  buildStepViewSchema,
  buildTriggerSchema,
  buildViewSchema,
  createdSourceViewSchema,
  createdTokenViewSchema,
  errorBodySchema,
  eventDecisionViewSchema,
  eventViewSchema,
  healthReportSchema,
  hostRefViewSchema,
  hostRepositoryViewSchema,
  logLineViewSchema,
  logSearchHitSchema,
  platformImageSchema,
  previewResultSchema,
  pushReceivedV1Schema,
  registryViewSchema,
  retentionRunSchema,
  sourceViewSchema,
  startedBuildSchema,
  tagRuleSchema,
  tokenViewSchema,
  triggerSchema,
} from '@kiln/contracts';

/**
 * Answers documented once, under `components/schemas`, and referenced by name wherever they appear: a generated client
 * gets a type per name (`components['schemas']['BuildView']`).
 */
const NAMED_ANSWERS: Record<string, z.ZodTypeAny> = {
  ErrorBody: errorBodySchema,
  HealthReport: healthReportSchema,
  SourceView: sourceViewSchema,
  CreatedSourceView: createdSourceViewSchema,
  HostRepository: hostRepositoryViewSchema,
  HostRef: hostRefViewSchema,
  Trigger: triggerSchema,
  TagRule: tagRuleSchema,
  BuildRuleView: buildRuleViewSchema,
  PreviewResult: previewResultSchema,
  StartedBuild: startedBuildSchema,
  BuildTrigger: buildTriggerSchema,
  BuildFailure: buildFailureSchema,
  BuildInstruction: buildInstructionSchema,
  PlatformImage: platformImageSchema,
  BuildStep: buildStepViewSchema,
  BuildView: buildViewSchema,
  LogLine: logLineViewSchema,
  LogSearchHit: logSearchHitSchema,
  RetentionRun: retentionRunSchema,
  PushReceived: pushReceivedV1Schema,
  EventDecision: eventDecisionViewSchema,
  EventView: eventViewSchema,
  RegistryView: registryViewSchema,
  TokenView: tokenViewSchema,
  CreatedTokenView: createdTokenViewSchema,
};
const COMPONENTS = 'components/schemas';
const COMPONENT_REF = /^#\/components\/schemas\/[^/]+$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function convert(schema: z.ZodTypeAny, io: 'input' | 'output', definitions: Record<string, z.ZodTypeAny>): { [k: string]: Json } {
  // Effects (refinements, transforms) are described by their input: the converter cannot know a refinement's output.
  const options = { target: 'openApi3', $refStrategy: io === 'output' ? 'root' : 'none', definitionPath: COMPONENTS, definitions, effectStrategy: 'input', pipeStrategy: io } as const;
  const root = (zodToJsonSchema as unknown as (s: unknown, o: object) => { [k: string]: Json })(schema, options);
  // Only references to a named answer stay; a part the converter saw twice and referenced by its first place is inlined.
  const at = (pointer: string): Json => {
    const [first, ...rest] = pointer.startsWith(`#/${COMPONENTS}/`) ? [COMPONENTS, ...pointer.slice(COMPONENTS.length + 3).split('/')] : pointer.slice(2).split('/');
    return [first, ...rest].reduce<Json>((node, key) => (node && typeof node === 'object' && !Array.isArray(node) ? node[key.replace(/~1/g, '/').replace(/~0/g, '~')] : null), root);
  };
  const inline = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(inline);
    if (!node || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string' && !COMPONENT_REF.test(node.$ref)) return inline(at(node.$ref));
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(v)]));
  };
  const { [COMPONENTS]: _definitions, ...rest } = root;
  return inline(rest) as { [k: string]: Json };
}

/**
 * A contract schema as an OpenAPI 3 schema: what a client sends (`input`: before defaults and transforms) or what it
 * gets back (`output`, with the named answers referenced).
 */
export function openApiSchema(schema: z.ZodTypeAny, io: 'input' | 'output' = 'output'): SchemaObject {
  if (io === 'input') return convert(schema, io, {}) as SchemaObject;
  const name = Object.keys(NAMED_ANSWERS).find((n) => NAMED_ANSWERS[n] === schema);
  return (name ? { $ref: `#/components/schemas/${name}` } : convert(schema, io, NAMED_ANSWERS)) as SchemaObject;
}

/** The named answers, for the document's `components.schemas` (each referencing the others by name). */
export function apiSchemaComponents(): Record<string, SchemaObject> {
  return Object.fromEntries(
    Object.entries(NAMED_ANSWERS).map(([name, schema]) => {
      const { [name]: _self, ...others } = NAMED_ANSWERS;
      return [name, convert(schema, 'output', others) as SchemaObject];
    }),
  );
}

export interface EndpointSpec {
  summary?: string;
  /** The request body's schema (JSON). */
  body?: z.ZodTypeAny;
  /** The query parameters, one per field; a field is required unless it is optional. */
  query?: z.AnyZodObject;
  /** The success answer's schema, or its content by media type (a download, a stream). */
  response: z.ZodTypeAny | Record<string, z.ZodTypeAny>;
  /** The success status (default 200). */
  status?: number;
  /** Error statuses the operation answers besides 400 (when it takes input), 401 and 403 (unless public), 500 and 503. */
  errors?: number[];
  /** Needs no API token (default: it does, and answers 401 without one). */
  public?: boolean;
}

/**
 * An API operation documented from the contract schemas: request body, query parameters, the success answer and its
 * errors, so `/api/docs-json` describes every request and answer and a client can be generated from it.
 */
export function Endpoint(spec: EndpointSpec): MethodDecorator {
  const status = spec.status ?? 200;
  const decorators: Array<MethodDecorator | ClassDecorator> = [];
  if (spec.summary) decorators.push(ApiOperation({ summary: spec.summary }));
  if (spec.body) decorators.push(ApiBody({ required: true, schema: openApiSchema(spec.body, 'input') }));
  for (const [name, field] of Object.entries(spec.query?.shape ?? {}) as Array<[string, z.ZodTypeAny]>) {
    const schema = openApiSchema(field instanceof z.ZodOptional ? field.unwrap() : field, 'input');
    decorators.push(ApiQuery({ name, required: !field.isOptional(), schema, description: field.description }));
  }
  const response = spec.response;
  if (response instanceof z.ZodType) decorators.push(ApiResponse({ status, description: 'OK', schema: openApiSchema(response) }));
  else decorators.push(ApiResponse({ status, description: 'OK', content: Object.fromEntries(Object.entries(response).map(([type, s]) => [type, { schema: openApiSchema(s) }])) }));
  const errors = new Set([...(spec.body || spec.query ? [400] : []), ...(spec.public ? [] : [401, 403]), ...(spec.errors ?? []), 500, 503]);
  for (const e of [...errors].sort()) decorators.push(ApiResponse({ status: e, description: ERROR_DESCRIPTIONS[e] ?? 'Error', schema: openApiSchema(errorBodySchema) }));
  return applyDecorators(...decorators);
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is not valid (fields names each problem)',
  401: 'No valid API token',
  403: "The token's role or namespaces do not allow it",
  404: 'Not found',
  409: 'Conflicts with the current state (the message says why)',
  422: 'Understood but not possible now: the code host refused or lacks what was asked (the code says which)',
  500: 'An unexpected error (logged with its details)',
  503: 'A service Kiln needs did not answer; try again',
};
