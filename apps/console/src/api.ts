import { createKilnClient, type components, type KilnClient, type operations } from '@kiln/api-client';

export type Schemas = components['schemas'];
export type BuildRule = Schemas['BuildRuleView'];
export type Build = Schemas['BuildView'];
export type Source = Schemas['SourceView'];
export type LogLine = Schemas['LogLine'];
export type ErrorBody = Schemas['ErrorBody'];
/** A rule as created (the body of Rules_create). */
export type RuleInput = NonNullable<operations['Rules_create']['requestBody']>['content']['application/json'];
export type Platform = NonNullable<RuleInput['platforms']>[number];

const TOKEN_KEY = 'kiln.token';

export interface Session {
  token: string;
  client: KilnClient;
  /** The token's name, role and namespaces, as the API knows them. */
  role: 'read' | 'write' | 'admin';
  name: string;
  namespaces: string[];
}

export const savedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const forgetToken = (): void => sessionStorage.removeItem(TOKEN_KEY);

export function clientFor(token: string): KilnClient {
  return createKilnClient({ baseUrl: window.location.origin, token });
}

/** Signs in with an API token: the API says whether it is valid, and its name, role and namespaces. */
export async function signIn(token: string): Promise<Session> {
  const client = clientFor(token);
  const self = await client.GET('/api/v1/tokens/self');
  if (self.response.status === 401) throw new Error('This token is not valid (or was deleted).');
  const me = ok(self);
  sessionStorage.setItem(TOKEN_KEY, token);
  return { token, client, role: me.role as Session['role'], name: me.name, namespaces: me.namespaces };
}

export const canWrite = (s: Session): boolean => s.role !== 'read';
export const isAdmin = (s: Session): boolean => s.role === 'admin';

/** An API error in words: the message, and each field's problem. */
export function describe(error: unknown): string {
  const e = error as Partial<ErrorBody> | undefined;
  if (!e || typeof e !== 'object') return String(error);
  const fields = e.fields?.map((f) => `${f.field}: ${f.message}`).join('; ');
  return [e.message, fields].filter(Boolean).join(' — ');
}

/** The data of an answer, or an Error with the API's message. */
export function ok<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data !== undefined && answer.response.ok) return answer.data;
  throw new Error(describe(answer.error) || `${answer.response.status} ${answer.response.statusText}`);
}
