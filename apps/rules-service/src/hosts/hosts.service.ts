import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EntityManager, LessThan } from 'typeorm';
import { cloneUrlFor, KilnError, PROVIDERS, Provider, UnprocessableError, ValidationError } from '@kiln/domain';
import type { HostRefView, HostRepositoryView, Page, SourceView } from '@kiln/contracts';
import { checkUrlField, classifyGitError, KILN_CONFIG, runGit, UrlRefused, withGitEnv } from '@kiln/platform';
import { RulesConfig } from '../config';
import { CodeSourceEntity } from '../sources/code-source.entity';
import { SourcesService } from '../sources/sources.service';
import { defaultApiUrl, HostApi, hostApi, HostApiError, HostPage } from './host-api';
import { OAuthStateEntity, RegisteredWebhookEntity } from './host-records.entity';
import { BuildRuleEntity } from '../rules/build-rule.entity';
import { authorizeUrl, exchangeCode, OAuthApp, oauthApp, OAuthError, oauthRedirectUri, OAUTH_GIT_USERNAME } from '../sources/oauth';

const REPO_NAME = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;
const STATE_TTL_MS = 10 * 60_000;

/** Kiln's side of each host's REST API: listing what a source can see, webhooks, and OAuth. */
@Injectable()
export class HostsService {
  constructor(
    private readonly sources: SourcesService,
    @Inject(KILN_CONFIG) private readonly config: RulesConfig,
  ) {}

  private api(source: CodeSourceEntity, token: string): HostApi {
    if (source.provider === 'git' || source.provider === 'coding')
      throw new UnprocessableError(
        'NotSupported',
        `listing repositories and registering webhooks through the ${source.provider} API are not supported; branches and tags are listed with git itself${source.provider === 'coding' ? ", and CODING's webhook is set up in the project's settings" : ''}`,
      );
    const apiUrl = source.apiUrl ?? defaultApiUrl(source.provider, source.baseUrl);
    return hostApi({ provider: source.provider, apiUrl: apiUrl as string, token, hosts: this.sources.hosts });
  }

  /** Run a host call; a 401/403 marks the source unauthorized (as a refused clone does) and says what to do. */
  private async guarded<T>(source: CodeSourceEntity, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof UrlRefused) throw new UnprocessableError('SourceUrlRefused', err.message);
      if (err instanceof HostApiError && err.unauthorized) {
        await this.sources.markUnauthorized(source.id, err.message, new Date());
        throw new UnprocessableError('SourceAuthFailed', `${err.message} (re-authorize the source)`);
      }
      if (err instanceof HostApiError) throw new KilnError(err.status === 404 ? 404 : 502, err.status === 404 ? 'NotFound' : 'HostUnavailable', err.message);
      throw err;
    }
  }

  private async token(source: CodeSourceEntity): Promise<string> {
    const creds = await this.sources.credentials(source.id);
    if (!creds.secret) throw new UnprocessableError('NoCredentials', `source ${source.id} has no token; add one or authorize through OAuth`);
    return creds.secret;
  }

  async repositories(sourceId: string, cursor: string | undefined, limit: number | undefined): Promise<Page<HostRepositoryView>> {
    const source = await this.sources.entity(sourceId);
    const { page, perPage } = paging(cursor, limit);
    const api = this.api(source, await this.token(source));
    return toPage(await this.guarded(source, () => api.listRepositories(page, perPage)));
  }

  async refs(sourceId: string, repo: string, kind: 'branches' | 'tags', cursor: string | undefined, limit: number | undefined): Promise<Page<HostRefView>> {
    const source = await this.sources.entity(sourceId);
    const { page, perPage } = paging(cursor, limit);
    if (source.provider === 'git') return this.gitRefs(source, repo, kind, page, perPage);
    // CODING's Open API is not supported yet: its branches and tags come from git itself, with the same token.
    if (source.provider === 'coding') {
      if (!REPO_NAME.test(repo) || repo.split('/').includes('..')) throw new ValidationError([{ field: 'repo', message: 'must be team/project/depot or owner/name on the host' }]);
      return this.gitRefs(source, cloneUrlFor('coding', source.baseUrl, repo), kind, page, perPage);
    }
    if (!REPO_NAME.test(repo) || repo.split('/').includes('..')) throw new ValidationError([{ field: 'repo', message: 'must be owner/name on the host' }]);
    const api = this.api(source, await this.token(source));
    return toPage(await this.guarded(source, () => (kind === 'branches' ? api.listBranches(repo, page, perPage) : api.listTags(repo, page, perPage))));
  }

  /** `git` sources have no API: the refs come from `git ls-remote` over the source's own credentials. */
  private async gitRefs(source: CodeSourceEntity, url: string, kind: 'branches' | 'tags', page: number, perPage: number): Promise<Page<HostRefView>> {
    await checkUrlField(this.sources.hosts, 'repo', url);
    const creds = await this.sources.credentials(source.id);
    const run = await withGitEnv(url, creds, (env) => runGit(['ls-remote', kind === 'branches' ? '--heads' : '--tags', '--', url], { env, timeoutMs: 30_000 }));
    if (run.code !== 0) {
      const problem = classifyGitError(run.stderr, url);
      if (problem.type === 'SourceAuthFailed') {
        await this.sources.markUnauthorized(source.id, problem.message, new Date());
        throw new UnprocessableError('SourceAuthFailed', `${problem.message} (${problem.hint})`);
      }
      throw new UnprocessableError(problem.type, problem.message);
    }
    const prefix = kind === 'branches' ? 'refs/heads/' : 'refs/tags/';
    const peeled = new Map<string, string>();
    const all: HostRefView[] = [];
    for (const line of run.stdout.split('\n')) {
      const [sha, ref] = line.trim().split(/\s+/);
      if (!ref?.startsWith(prefix)) continue;
      if (ref.endsWith('^{}')) peeled.set(ref.slice(prefix.length, -3), sha);
      else all.push({ name: ref.slice(prefix.length), commit: sha });
    }
    for (const r of all) r.commit = peeled.get(r.name) ?? r.commit;
    all.sort((a, b) => a.name.localeCompare(b.name));
    const items = all.slice((page - 1) * perPage, page * perPage);
    return { items, nextCursor: page * perPage < all.length ? String(page + 1) : null };
  }

  /** One Kiln webhook per source and repository, shared by its rules. Runs inside the rule's transaction. */
  async ensureWebhook(tx: EntityManager, source: CodeSourceEntity, repository: string, repositoryKey: string): Promise<void> {
    const existing = await tx.findOne(RegisteredWebhookEntity, { where: { sourceId: source.id, repositoryKey }, lock: { mode: 'pessimistic_write' } });
    if (existing) return;
    const api = this.api(source, await this.token(source));
    const webhook = await this.sources.webhookConfig(source.id);
    const onHost = hostRepoName(repository);
    const hookId = await this.guarded(source, () => api.createHook(onHost, this.sources.view(source).webhookUrl, webhook.webhookSecret));
    try {
      await tx.insert(RegisteredWebhookEntity, { sourceId: source.id, repositoryKey, repository, hookId });
    } catch (err) {
      await api.deleteHook(onHost, hookId).catch(() => undefined);
      throw err;
    }
  }

  /** After a rule is deleted (or moved): the last rule of the repository takes Kiln's webhook with it. */
  async releaseWebhook(tx: EntityManager, sourceId: string, repositoryKey: string): Promise<void> {
    const hook = await tx.findOne(RegisteredWebhookEntity, { where: { sourceId, repositoryKey }, lock: { mode: 'pessimistic_write' } });
    if (!hook) return;
    if ((await tx.count(BuildRuleEntity, { where: { sourceId, repositoryKey } })) > 0) return;
    const source = await this.sources.entity(sourceId);
    const api = this.api(source, await this.token(source));
    try {
      await this.guarded(source, () => api.deleteHook(hostRepoName(hook.repository), hook.hookId));
    } catch (err) {
      // Already gone on the host is what we want; anything else keeps the record so it can be retried.
      if (!(err instanceof KilnError && err.status === 404)) throw err;
    }
    await tx.delete(RegisteredWebhookEntity, { sourceId, repositoryKey });
  }

  // ---------------------------------------------------------------- OAuth

  private app(provider: Provider): OAuthApp {
    const app = oauthApp(this.config, provider);
    if (!app)
      throw new UnprocessableError(
        'OAuthNotConfigured',
        `OAuth for ${provider} is not configured: set KILN_OAUTH_${provider.toUpperCase()}_CLIENT_ID and _CLIENT_SECRET${provider === 'coding' ? ' and _URL' : ''}, or give the source a personal access token`,
      );
    return app;
  }

  private get redirectUri(): string {
    return oauthRedirectUri(this.config.KILN_PUBLIC_API_URL);
  }

  /** Step 1: where to send the user. The state is single-use and expires in 10 minutes. */
  async oauthStart(req: { provider: string; name?: string; baseUrl?: string | null; apiUrl?: string | null; sourceId?: string }): Promise<{ authorizeUrl: string; state: string; expiresAt: string }> {
    const provider = req.provider as Provider;
    if (!PROVIDERS.includes(provider) || provider === 'git') throw new ValidationError([{ field: 'provider', message: 'must be github, gitlab, gitee or coding' }]);
    let name = typeof req.name === 'string' ? req.name.trim() : '';
    if (req.sourceId) {
      const s = await this.sources.entity(req.sourceId);
      if (s.provider !== provider) throw new ValidationError([{ field: 'sourceId', message: `is a ${s.provider} source` }]);
      name = s.name;
    }
    if (!name || name.length > 100) throw new ValidationError([{ field: 'name', message: 'name the source (1-100 characters)' }]);
    if (req.baseUrl) await checkUrlField(this.sources.hosts, 'baseUrl', req.baseUrl, ['https', 'http']);
    if (req.apiUrl) await checkUrlField(this.sources.hosts, 'apiUrl', req.apiUrl, ['https', 'http']);
    const app = this.app(provider);
    const state = randomBytes(24).toString('base64url');
    await this.sources.manager.delete(OAuthStateEntity, { createdAt: LessThan(new Date(Date.now() - STATE_TTL_MS)) });
    await this.sources.manager.insert(OAuthStateEntity, { state, provider, name, baseUrl: req.baseUrl ?? null, apiUrl: req.apiUrl ?? null, sourceId: req.sourceId ?? null });
    return { authorizeUrl: authorizeUrl(provider, app, this.redirectUri, state), state, expiresAt: new Date(Date.now() + STATE_TTL_MS).toISOString() };
  }

  /** Step 2: the host sent the user back. Exchange the code, store the token sealed, and answer with the source. */
  async oauthCallback(q: { code?: string; state?: string; error?: string; error_description?: string }): Promise<SourceView> {
    if (typeof q.state !== 'string' || !q.state) throw new ValidationError([{ field: 'state', message: 'is missing: start again from Kiln' }]);
    // Single use: taken by the DELETE that finds it (two callbacks with the same state: one gets it).
    const taken = await this.sources.manager
      .createQueryBuilder()
      .delete()
      .from(OAuthStateEntity)
      .where('state = :state AND created_at > :since', { state: q.state, since: new Date(Date.now() - STATE_TTL_MS) })
      .returning('provider, name, base_url, api_url, source_id')
      .execute();
    const pending = (taken.raw as Array<{ provider: Provider; name: string; base_url: string | null; api_url: string | null; source_id: string | null }>)[0];
    if (!pending) throw new ValidationError([{ field: 'state', message: 'is unknown, used or expired: start the authorization again' }]);
    if (q.error) throw new UnprocessableError('OAuthDenied', `the host did not authorize Kiln: ${q.error_description ?? q.error}`);
    if (typeof q.code !== 'string' || !q.code) throw new ValidationError([{ field: 'code', message: 'is missing' }]);
    let token;
    try {
      token = await exchangeCode(pending.provider as Exclude<Provider, 'git'>, this.app(pending.provider), q.code, this.redirectUri);
    } catch (err) {
      if (err instanceof OAuthError) throw new UnprocessableError('OAuthExchangeFailed', err.message);
      throw err;
    }
    const username = OAUTH_GIT_USERNAME[pending.provider as Exclude<Provider, 'git'>];
    if (pending.source_id) return this.sources.reauthorizeWithOAuth(pending.source_id, token, username);
    return this.sources.createFromOAuth({ provider: pending.provider, name: pending.name, baseUrl: pending.base_url, apiUrl: pending.api_url, token, username });
  }
}

/** The repository as the host's API names it: `owner/name`, without a `.git` suffix. */
const hostRepoName = (repository: string): string => repository.replace(/\.git$/, '');

function paging(cursor: string | undefined, limit: number | undefined): { page: number; perPage: number } {
  const page = cursor ? Number(cursor) : 1;
  if (!Number.isInteger(page) || page < 1) throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
  const perPage = Math.min(Math.max(Number(limit ?? 30), 1), 100);
  return { page, perPage };
}

function toPage<T>(p: HostPage<T>): Page<T> {
  return { items: p.items, nextCursor: p.nextPage ? String(p.nextPage) : null };
}
