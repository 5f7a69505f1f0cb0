import { PROVIDERS, type Provider } from '@kiln/domain';
import { z } from 'zod';
import { body, byId, defineRpc, deletedSchema, instant, noArgs, pageOf, pageQuery } from './define';
import { pageParams } from './http';

// Code sources (rules-service). The input schemas are the ones rules-service validates with; the API documents them.

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL');

const sshKey = z
  .string()
  .max(16_384)
  .refine((k) => /^-----BEGIN (OPENSSH|RSA|EC) PRIVATE KEY-----\r?\n[\s\S]+\n-----END (OPENSSH|RSA|EC) PRIVATE KEY-----\s*$/.test(k), 'must be an unencrypted private key in OpenSSH or PEM form');

/** Fields a source is created with and may change later (the provider never changes). */
const sourceFields = {
  baseUrl: httpUrl.nullish().describe('Where the host serves git (clone URLs); default the public host'),
  apiUrl: httpUrl.nullish().describe("The host's REST API base when not the default (api.github.com, <baseUrl>/api/v4, gitee.com/api/v5)"),
  token: z.string().min(1).max(4096).optional(),
  password: z.string().min(1).max(4096).optional(),
  sshPrivateKey: sshKey.optional().describe('git sources over SSH: an OpenSSH private key (unencrypted)'),
  generateSshKey: z.boolean().optional().describe('git sources over SSH: Kiln makes a key and shows its public half'),
  webhookSecret: z.string().min(8, 'must be at least 8 characters').max(256).optional(),
};

type CredentialFields = { token?: string; password?: string; sshPrivateKey?: string; generateSshKey?: boolean };
function credentialProblems(v: CredentialFields, ctx: z.RefinementCtx): void {
  if (v.token && v.password) ctx.addIssue({ code: 'custom', path: ['password'], message: 'give a token or a password, not both' });
  if (v.sshPrivateKey && v.generateSshKey) ctx.addIssue({ code: 'custom', path: ['generateSshKey'], message: 'give a key or ask for one, not both' });
}

export const createSourceSchema = z
  .object({ provider: z.enum(PROVIDERS), name: z.string().trim().min(1).max(100), username: z.string().min(1).max(255).optional(), ...sourceFields })
  .strict()
  .superRefine((v, ctx) => {
    credentialProblems(v, ctx);
    if (v.password && !v.username) ctx.addIssue({ code: 'custom', path: ['username'], message: 'is required with a password' });
    if ((v.sshPrivateKey || v.generateSshKey) && v.provider !== 'git') ctx.addIssue({ code: 'custom', path: ['sshPrivateKey'], message: 'SSH keys are for git sources (hosts use tokens or OAuth)' });
  });
export type CreateSourceRequest = z.input<typeof createSourceSchema>;

export const updateSourceSchema = z
  .object({ name: z.string().trim().min(1).max(100).optional(), username: z.string().min(1).max(255).nullish(), ...sourceFields })
  .strict()
  .superRefine(credentialProblems);
export type UpdateSourceRequest = z.input<typeof updateSourceSchema>;

export const sourceViewSchema = z.object({
  id: z.string().uuid(),
  provider: z.enum(PROVIDERS),
  name: z.string(),
  baseUrl: z.string().nullable(),
  apiUrl: z.string().nullable(),
  oauth: z.boolean().describe("The token came from the host's OAuth flow"),
  webhookUrl: z.string(),
  credentials: z.enum(['token', 'password', 'oauth', 'ssh-key', 'none']).describe('Which credentials Kiln holds (never the credentials themselves)'),
  sshPublicKey: z.string().nullable().describe("The public half of the source's SSH key: add it to the repository as a (read-only) deploy key"),
  status: z.enum(['ok', 'unauthorized']),
  statusReason: z.string().nullable(),
  statusAt: instant.nullable(),
  createdAt: instant,
  updatedAt: instant,
});
export type SourceView = z.infer<typeof sourceViewSchema>;

/** Only the create answer carries the webhook secret, once. */
export const createdSourceViewSchema = sourceViewSchema.extend({ webhookSecret: z.string() });
export type CreatedSourceView = z.infer<typeof createdSourceViewSchema>;

/** What webhook-ingest needs to verify a delivery. Core NATS inside the trusted network only. */
export interface SourceWebhookConfig {
  id: string;
  provider: Provider;
  webhookSecret: string;
}

/** What the clone activity needs. Never logged, never put in Temporal history. */
export interface SourceCredentials {
  id: string;
  provider: Provider;
  username: string | null;
  secret: string | null;
  sshPrivateKey: string | null;
}

export const sourcesCreate = defineRpc('rules.sources.create.v1', body<CreateSourceRequest>()).returns(createdSourceViewSchema);
export const sourcesList = defineRpc('rules.sources.list.v1', noArgs).returns(pageOf(sourceViewSchema));
export const sourcesGet = defineRpc('rules.sources.get.v1', byId).returns(sourceViewSchema);
export const sourcesWebhookConfig = defineRpc('rules.sources.webhook-config.v1', byId).returns(z.object({ id: z.string(), provider: z.enum(PROVIDERS), webhookSecret: z.string() }));
export const sourcesCredentials = defineRpc('rules.sources.credentials.v1', byId).returns(z.custom<SourceCredentials>());
/** Core NATS broadcast (no queue group): every webhook-ingest replica drops its cached config of the source. */
export const SOURCE_CHANGED_SUBJECT = 'rules.sources.changed.v1';

export const hostRepositoryViewSchema = z.object({ fullName: z.string(), cloneUrl: z.string(), defaultBranch: z.string().nullable(), private: z.boolean() });
export type HostRepositoryView = z.infer<typeof hostRepositoryViewSchema>;
export const hostRefViewSchema = z.object({ name: z.string(), commit: z.string() });
export type HostRefView = z.infer<typeof hostRefViewSchema>;
/** What the source's credentials can see on the host (its REST API), page by page. */
export const sourcesRepositories = defineRpc('rules.sources.repositories.v1', byId.extend(pageQuery)).returns(pageOf(hostRepositoryViewSchema));
export const sourcesRefs = defineRpc('rules.sources.refs.v1', byId.extend({ repo: z.string(), kind: z.enum(['branches', 'tags']), ...pageQuery })).returns(pageOf(hostRefViewSchema));
/** The REST body of an OAuth start (the provider is in the path). */
export const oauthStartBodySchema = z.object({
  name: z.string().optional().describe('Name of the source to create (or sourceId to re-authorize one)'),
  baseUrl: z.string().nullish(),
  apiUrl: z.string().nullish(),
  sourceId: z.string().optional(),
});
export type OAuthStartRequest = z.infer<typeof oauthStartBodySchema> & { provider: string };
export const oauthStartedSchema = z.object({ authorizeUrl: z.string(), state: z.string(), expiresAt: instant });
export const oauthStart = defineRpc('rules.oauth.start.v1', body<OAuthStartRequest>()).returns(oauthStartedSchema);
export const oauthCallback = defineRpc(
  'rules.oauth.callback.v1',
  z.object({ code: z.string().optional(), state: z.string().optional(), error: z.string().optional(), error_description: z.string().optional() }),
).returns(sourceViewSchema);

export const sourcesUpdate = defineRpc('rules.sources.update.v1', byId.extend({ patch: body<UpdateSourceRequest>() })).returns(sourceViewSchema);
export const sourcesDelete = defineRpc('rules.sources.delete.v1', byId).returns(deletedSchema);

/** Query parameters of the source's repository and ref lists. */
export const hostListParamsSchema = z.object(pageParams);
/** What the host sends the user's browser back with. */
export const oauthCallbackParamsSchema = z.object({ code: z.string().optional(), state: z.string().optional(), error: z.string().optional(), error_description: z.string().optional() });
