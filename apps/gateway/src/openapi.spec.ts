import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The committed OpenAPI document (`scripts/kiln test` first checks it is the one the gateway prints) describes every
 * request and answer: a client generated from it is complete. The end-to-end tests check real answers against it.
 */
interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
}
interface Operation {
  operationId: string;
  parameters?: Array<{ name: string; in: string; schema?: Schema }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
const text = readFileSync(join(__dirname, '..', '..', '..', 'libs', 'api-client', 'openapi.json'), 'utf8');
const doc = JSON.parse(text) as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
/** Actions named by their path alone: they take no body. */
const WITHOUT_BODY = new Set(['Builds_cancel', 'Builds_rebuild', 'Events_redeliver', 'Logs_runRetention']);
const typed = (s: Schema | undefined): boolean => !!s && (s.$ref !== undefined || s.type !== undefined || s.enum !== undefined || (s.anyOf?.every(typed) ?? false));

describe('the OpenAPI document', () => {
  it('has the operations of every resource', () => {
    const ids = operations.map((o) => o.op.operationId);
    for (const resource of ['Sources', 'Rules', 'Builds', 'Logs', 'Events', 'Tokens', 'Registries']) expect(ids.filter((id) => id.startsWith(`${resource}_`)).length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names the answers it shares, and every reference leads to one of them', () => {
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['BuildRuleView', 'BuildView', 'SourceView', 'EventView', 'LogLine', 'ErrorBody']));
    for (const schema of Object.values(doc.components.schemas)) expect(typed(schema)).toBe(true);
    const refs = new Set([...text.matchAll(/"\$ref": "([^"]+)"/g)].map((m) => m[1]));
    expect(refs.size).toBeGreaterThan(10);
    for (const ref of refs) expect(ref).toMatch(new RegExp(`^#/components/schemas/(${Object.keys(doc.components.schemas).join('|')})$`));
  });

  it.each(operations.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const))('%s documents its answer, body and parameters', (_name, { method, op }) => {
    const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
    expect(success).toHaveLength(1);
    const content = success[0][1].content ?? {};
    expect(Object.keys(content).length).toBeGreaterThan(0);
    for (const media of Object.values(content)) expect(typed(media.schema)).toBe(true);
    for (const [status, response] of Object.entries(op.responses).filter(([s]) => /^[45]/.test(s))) {
      expect({ status, schema: typed(response.content?.['application/json']?.schema) }).toEqual({ status, schema: true });
    }
    for (const p of op.parameters ?? []) expect({ param: p.name, typed: typed(p.schema) }).toEqual({ param: p.name, typed: true });
    if (op.requestBody) {
      expect(typed(op.requestBody.content['application/json']?.schema)).toBe(true);
      expect(Object.keys(op.requestBody.content['application/json'].schema.properties ?? {}).length).toBeGreaterThan(0);
    } else if (['post', 'put', 'patch'].includes(method)) {
      expect(WITHOUT_BODY.has(op.operationId) ? op.operationId : `${op.operationId} has no documented body`).toBe(op.operationId);
    }
  });
});
