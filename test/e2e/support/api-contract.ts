import Ajv, { type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './stack';

interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}

/**
 * The gateway's OpenAPI document (the committed copy, which `scripts/kiln test` checks against the gateway): every
 * answer the end-to-end tests get is checked against the schema documented for its operation and status, so a field
 * the API adds, drops or retypes without its contract fails the suite.
 */
class ApiContract {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly routes: Array<{ method: string; pattern: RegExp; path: string; op: Operation }> = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(doc: { paths: Record<string, Record<string, Operation>>; components: object }) {
    // The named schemas, added once: each answer's schema refers to them, and Ajv compiles each only once.
    this.ajv.addSchema(forAjv({ $id: COMPONENTS, components: doc.components }) as object);
    this.ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    this.ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d\d-\d\dT/.test(s));
    this.ajv.addFormat('uri', (s: string) => URL.canParse(s));
    for (const [path, ops] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(ops)) this.routes.push({ method: method.toUpperCase(), pattern, path, op });
    }
    // Literal paths before templated ones (`/sources/oauth/{provider}` is not `/sources/{id}/...`).
    this.routes.sort((a, b) => (a.path.match(/\{/g)?.length ?? 0) - (b.path.match(/\{/g)?.length ?? 0));
  }

  /** Why an answer does not match its documented schema, or null when it does. */
  problem(method: string, url: string, status: number, contentType: string, body: unknown): string | null {
    const path = new URL(url).pathname;
    const route = this.routes.find((r) => r.method === method && r.pattern.test(path));
    if (!route) return `${method} ${path} is not in the OpenAPI document`;
    const response = route.op.responses[String(status)];
    if (!response) return `${route.op.operationId} answered ${status}, which its OpenAPI document does not list (${Object.keys(route.op.responses).join(', ')})`;
    const media = contentType.split(';')[0].trim() || 'application/json';
    if (media !== 'application/json') return response.content && !response.content[media] ? `${route.op.operationId} answered ${media}, not documented` : null;
    const schema = response.content?.['application/json']?.schema;
    if (!schema) return `${route.op.operationId} ${status} has no documented schema`;
    const key = `${route.op.operationId} ${status}`;
    let validate = this.validators.get(key);
    if (!validate) this.validators.set(key, (validate = this.ajv.compile(forAjv(schema, `${COMPONENTS}#`) as object)));
    if (validate(body)) return null;
    return `${key} does not match its documented schema: ${this.ajv.errorsText(validate.errors, { separator: '; ' })}\n${JSON.stringify(body).slice(0, 600)}`;
  }
}

/** The $id under which Ajv holds the document's components. */
const COMPONENTS = 'kiln-openapi';

/**
 * OpenAPI 3.0 writes "or null" of a referenced schema as `{allOf: [{$ref}], nullable: true}`, which Ajv (a JSON Schema
 * validator) reads only beside a `type`: say the same as `anyOf` with null. `refBase`, for a schema outside the
 * components, points its `#/components/...` references at them.
 */
function forAjv(node: unknown, refBase = '#'): unknown {
  if (Array.isArray(node)) return node.map((n) => forAjv(n, refBase));
  if (!node || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const inner = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? refBase + v.slice(1) : forAjv(v, refBase)]));
  return nullable === true && inner.type === undefined ? { anyOf: [inner, { type: 'null' }] } : nullable === undefined ? inner : { ...inner, nullable };
}

let contract: ApiContract | undefined;
export function apiContract(): ApiContract {
  contract ??= new ApiContract(JSON.parse(readFileSync(join(ROOT, 'libs', 'api-client', 'openapi.json'), 'utf8')));
  return contract;
}
