import type { Provider } from '@kiln/domain';
import { z } from 'zod';
import { body, byId, defineRpc, noArgs, pageQuery } from './define';
import type { Page } from './define';

// Code sources (rules-service)
export interface CreateSourceRequest {
  provider: Provider;
  name: string;
  baseUrl?: string | null;
  /** The host's REST API base when not the default (api.github.com, <baseUrl>/api/v4, gitee.com/api/v5). */
  apiUrl?: string | null;
  token?: string;
  username?: string;
  password?: string;
  /** `git` sources over SSH: an OpenSSH private key (unencrypted), or `generateSshKey` for Kiln to make one. */
  sshPrivateKey?: string;
  generateSshKey?: boolean;
  webhookSecret?: string;
}

export interface SourceView {
  id: string;
  provider: Provider;
  name: string;
  baseUrl: string | null;
  apiUrl: string | null;
  /** The token came from the host's OAuth flow. */
  oauth: boolean;
  webhookUrl: string;
  /** Which credentials Kiln holds (never the credentials themselves). */
  credentials: 'token' | 'password' | 'oauth' | 'ssh-key' | 'none';
  /** The public half of the source's SSH key: add it to the repository as a (read-only) deploy key. */
  sshPublicKey: string | null;
  status: 'ok' | 'unauthorized';
  statusReason: string | null;
  statusAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Only the create answer carries the webhook secret, once. */
export type CreatedSourceView = SourceView & { webhookSecret: string };

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

export type UpdateSourceRequest = Partial<Omit<CreateSourceRequest, 'provider'>>;

export const sourcesCreate = defineRpc('rules.sources.create.v1', body<CreateSourceRequest>()).returns<CreatedSourceView>();
export const sourcesList = defineRpc('rules.sources.list.v1', noArgs).returns<Page<SourceView>>();
export const sourcesGet = defineRpc('rules.sources.get.v1', byId).returns<SourceView>();
export const sourcesWebhookConfig = defineRpc('rules.sources.webhook-config.v1', byId).returns<SourceWebhookConfig>();
export const sourcesCredentials = defineRpc('rules.sources.credentials.v1', byId).returns<SourceCredentials>();
/** Core NATS broadcast (no queue group): every webhook-ingest replica drops its cached config of the source. */
export const SOURCE_CHANGED_SUBJECT = 'rules.sources.changed.v1';

export interface HostRepositoryView {
  fullName: string;
  cloneUrl: string;
  defaultBranch: string | null;
  private: boolean;
}
export interface HostRefView {
  name: string;
  commit: string;
}
/** What the source's credentials can see on the host (its REST API), page by page. */
export const sourcesRepositories = defineRpc('rules.sources.repositories.v1', byId.extend(pageQuery)).returns<Page<HostRepositoryView>>();
export const sourcesRefs = defineRpc('rules.sources.refs.v1', byId.extend({ repo: z.string(), kind: z.enum(['branches', 'tags']), ...pageQuery })).returns<Page<HostRefView>>();
export interface OAuthStartRequest {
  provider: string;
  /** Name of the source to create (or `sourceId` to re-authorize one). */
  name?: string;
  baseUrl?: string | null;
  apiUrl?: string | null;
  sourceId?: string;
}
export const oauthStart = defineRpc('rules.oauth.start.v1', body<OAuthStartRequest>()).returns<{ authorizeUrl: string; state: string; expiresAt: string }>();
export const oauthCallback = defineRpc(
  'rules.oauth.callback.v1',
  z.object({ code: z.string().optional(), state: z.string().optional(), error: z.string().optional(), error_description: z.string().optional() }),
).returns<SourceView>();

export const sourcesUpdate = defineRpc('rules.sources.update.v1', byId.extend({ patch: body<UpdateSourceRequest>() })).returns<SourceView>();
export const sourcesDelete = defineRpc('rules.sources.delete.v1', byId).returns<{ deleted: true }>();
