import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes, randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '@kiln/domain';
import { generateSshKey, publicKeyOf } from './ssh-keys';
import { OAuthError, oauthApp, oauthRedirectUri, OAuthToken, refreshAccessToken } from './oauth';

/** OAuth access tokens are renewed this long before they expire. */
const REFRESH_AHEAD_MS = 5 * 60_000;
import { createSourceSchema, updateSourceSchema } from '@kiln/contracts';
import type { CreateSourceRequest, CreatedSourceView, Page, SourceCredentials, SourceView, SourceWebhookConfig, UpdateSourceRequest } from '@kiln/contracts';
import { BuildRuleEntity } from '../rules/build-rule.entity';
import { checkUrlField, EventBus, HostPolicy, KILN_CONFIG, parseInput } from '@kiln/platform';
import { SOURCE_CHANGED_SUBJECT } from '@kiln/contracts';
import { RulesConfig } from '../config';
import { SECRET_BOX } from '../crypto/tokens';
import { SecretBox } from '../crypto/secret-box';
import { CodeSourceEntity } from './code-source.entity';

@Injectable()
export class SourcesService {
  constructor(
    @InjectRepository(CodeSourceEntity) private readonly sources: Repository<CodeSourceEntity>,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    @Inject(KILN_CONFIG) private readonly config: RulesConfig,
    private readonly bus: EventBus,
  ) {
    this.hosts = new HostPolicy(config.KILN_GIT_ALLOW_HOSTS);
  }

  readonly hosts: HostPolicy;

  get manager() {
    return this.sources.manager;
  }

  /** The OAuth callback's new source: the token is sealed like any other, and marked as from OAuth. */
  async createFromOAuth(s: { provider: CodeSourceEntity['provider']; name: string; baseUrl: string | null; apiUrl: string | null; token: OAuthToken; username: string }): Promise<SourceView> {
    const entity = this.sources.create({
      id: randomUUID(),
      provider: s.provider,
      name: s.name,
      baseUrl: s.baseUrl ? s.baseUrl.replace(/\/+$/, '') : null,
      apiUrl: s.apiUrl ? s.apiUrl.replace(/\/+$/, '') : null,
      oauth: true,
      oauthRefreshSealed: s.token.refreshToken ? this.box.seal(s.token.refreshToken) : null,
      oauthExpiresAt: s.token.expiresAt,
      username: s.username,
      secretSealed: this.box.seal(s.token.accessToken),
      webhookSecretSealed: this.box.seal(randomBytes(24).toString('base64url')),
      sshKeySealed: null,
      sshPublicKey: null,
      status: 'ok',
      statusReason: null,
      statusAt: null,
    });
    return this.view(await this.sources.save(entity));
  }

  /** Re-authorization through OAuth: a new token clears the `unauthorized` state. */
  async reauthorizeWithOAuth(id: string, token: OAuthToken, username: string): Promise<SourceView> {
    const source = await this.entity(id);
    Object.assign(source, {
      secretSealed: this.box.seal(token.accessToken),
      oauthRefreshSealed: token.refreshToken ? this.box.seal(token.refreshToken) : null,
      oauthExpiresAt: token.expiresAt,
      username,
      oauth: true,
      status: 'ok',
      statusReason: null,
      statusAt: new Date(),
    });
    const saved = await this.sources.save(source);
    this.announceChange(id);
    return this.view(saved);
  }

  /** Tell webhook-ingest replicas to drop their cached secret of this source. */
  private announceChange(id: string): void {
    this.bus.nc.publish(SOURCE_CHANGED_SUBJECT, new TextEncoder().encode(id));
  }

  async create(input: CreateSourceRequest): Promise<CreatedSourceView> {
    const req = parseInput(createSourceSchema, input);
    if (req.baseUrl) await checkUrlField(this.hosts, 'baseUrl', req.baseUrl, ['https', 'http']);
    if (req.apiUrl) await checkUrlField(this.hosts, 'apiUrl', req.apiUrl, ['https', 'http']);
    const webhookSecret = req.webhookSecret ?? randomBytes(24).toString('base64url');
    const secret = req.token ?? req.password ?? null;
    const ssh = req.generateSshKey ? await generateSshKey(`kiln-${req.name}`) : req.sshPrivateKey ? { privateKey: req.sshPrivateKey, publicKey: await publicKeyOf(req.sshPrivateKey) } : null;
    const entity = this.sources.create({
      id: randomUUID(),
      provider: req.provider,
      name: req.name,
      baseUrl: req.baseUrl ? req.baseUrl.replace(/\/+$/, '') : null,
      apiUrl: req.apiUrl ? req.apiUrl.replace(/\/+$/, '') : null,
      oauth: false,
      username: req.username ?? null,
      secretSealed: secret === null ? null : this.box.seal(secret),
      webhookSecretSealed: this.box.seal(webhookSecret),
      sshKeySealed: ssh ? this.box.seal(ssh.privateKey) : null,
      sshPublicKey: ssh?.publicKey ?? null,
      status: 'ok',
      statusReason: null,
      statusAt: null,
    });
    const saved = await this.sources.save(entity);
    return { ...this.view(saved), webhookSecret };
  }

  /** New credentials are a re-authorization: they clear an `unauthorized` state. */
  async update(id: string, input: UpdateSourceRequest): Promise<SourceView> {
    const patch = parseInput(updateSourceSchema, input);
    const source = await this.entity(id);
    if (patch.baseUrl) await checkUrlField(this.hosts, 'baseUrl', patch.baseUrl, ['https', 'http']);
    if (patch.apiUrl) await checkUrlField(this.hosts, 'apiUrl', patch.apiUrl, ['https', 'http']);
    if (patch.apiUrl !== undefined) source.apiUrl = patch.apiUrl ? patch.apiUrl.replace(/\/+$/, '') : null;
    if (patch.name !== undefined) source.name = patch.name;
    if (patch.baseUrl !== undefined) source.baseUrl = patch.baseUrl ? patch.baseUrl.replace(/\/+$/, '') : null;
    if (patch.username !== undefined) source.username = patch.username ?? null;
    const secret = patch.token ?? patch.password;
    if ((patch.sshPrivateKey || patch.generateSshKey) && source.provider !== 'git')
      throw new ValidationError([{ field: 'sshPrivateKey', message: 'SSH keys are for git sources (hosts use tokens or OAuth)' }]);
    const ssh = patch.generateSshKey
      ? await generateSshKey(`kiln-${source.name}`)
      : patch.sshPrivateKey
        ? { privateKey: patch.sshPrivateKey, publicKey: await publicKeyOf(patch.sshPrivateKey) }
        : null;
    if (ssh) {
      source.sshKeySealed = this.box.seal(ssh.privateKey);
      source.sshPublicKey = ssh.publicKey;
    }
    if (secret !== undefined || ssh) {
      if (secret !== undefined) {
        source.secretSealed = this.box.seal(secret);
        Object.assign(source, { oauth: false, oauthRefreshSealed: null, oauthExpiresAt: null });
      }
      source.status = 'ok';
      source.statusReason = null;
      source.statusAt = new Date();
    }
    if (patch.webhookSecret !== undefined) source.webhookSecretSealed = this.box.seal(patch.webhookSecret);
    const saved = await this.sources.save(source);
    this.announceChange(id);
    return this.view(saved);
  }

  /** Mark a source unauthorized, unless its credentials were renewed after the refusal. */
  async markUnauthorized(id: string, reason: string, at: Date): Promise<void> {
    await this.sources
      .createQueryBuilder()
      .update(CodeSourceEntity)
      .set({ status: 'unauthorized', statusReason: reason.slice(0, 2000), statusAt: at })
      .where('id = :id AND (status_at IS NULL OR status_at < :at)', { id, at })
      .execute();
  }

  async delete(id: string): Promise<{ deleted: true }> {
    const source = await this.entity(id);
    const using = await this.sources.manager.count(BuildRuleEntity, { where: { sourceId: source.id } });
    if (using > 0) throw new ConflictError(`${using} build rule(s) use source ${id}; delete or move them first`);
    await this.sources.delete({ id: source.id });
    this.announceChange(id);
    return { deleted: true };
  }

  async list(): Promise<Page<SourceView>> {
    const rows = await this.sources.find({ order: { createdAt: 'ASC' } });
    return { items: rows.map((r) => this.view(r)), nextCursor: null };
  }

  async get(id: string): Promise<SourceView> {
    return this.view(await this.entity(id));
  }

  async webhookConfig(id: string): Promise<SourceWebhookConfig> {
    const s = await this.entity(id);
    return { id: s.id, provider: s.provider, webhookSecret: this.box.open(s.webhookSecretSealed) };
  }

  async credentials(id: string): Promise<SourceCredentials> {
    let s = await this.entity(id);
    if (s.oauth && s.oauthRefreshSealed && s.oauthExpiresAt && s.oauthExpiresAt.getTime() < Date.now() + REFRESH_AHEAD_MS) s = await this.refreshOAuth(id);
    return {
      id: s.id,
      provider: s.provider,
      username: s.username,
      secret: s.secretSealed ? this.box.open(s.secretSealed) : null,
      sshPrivateKey: s.sshKeySealed ? this.box.open(s.sshKeySealed) : null,
    };
  }

  /**
   * Renew an OAuth access token before it expires. Under a row lock, so concurrent callers renew once (hosts
   * invalidate a refresh token when it is used). A refused refresh marks the source unauthorized.
   */
  private async refreshOAuth(id: string): Promise<CodeSourceEntity> {
    return this.sources.manager.transaction(async (tx) => {
      const s = await tx.findOneOrFail(CodeSourceEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!s.oauthRefreshSealed || !s.oauthExpiresAt || s.oauthExpiresAt.getTime() >= Date.now() + REFRESH_AHEAD_MS) return s;
      const app = oauthApp(this.config, s.provider);
      if (!app) return s; // no app configured any more: the token is used until the host refuses it
      try {
        const token = await refreshAccessToken(s.provider as Exclude<typeof s.provider, 'git'>, app, this.box.open(s.oauthRefreshSealed), oauthRedirectUri(this.config.KILN_PUBLIC_API_URL));
        s.secretSealed = this.box.seal(token.accessToken);
        s.oauthRefreshSealed = token.refreshToken ? this.box.seal(token.refreshToken) : s.oauthRefreshSealed;
        s.oauthExpiresAt = token.expiresAt;
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        Object.assign(s, { status: 'unauthorized', statusReason: `${err.message}; re-authorize the source`, statusAt: new Date(), oauthExpiresAt: null });
      }
      return tx.save(s);
    });
  }

  async entity(id: string): Promise<CodeSourceEntity> {
    const found = z.string().uuid().safeParse(id).success ? await this.sources.findOneBy({ id }) : null;
    if (!found) throw new NotFoundError('source', id);
    return found;
  }

  view(s: CodeSourceEntity): SourceView {
    return {
      id: s.id,
      provider: s.provider,
      name: s.name,
      baseUrl: s.baseUrl,
      apiUrl: s.apiUrl,
      oauth: s.oauth,
      webhookUrl: `${this.config.KILN_WEBHOOK_PUBLIC_URL.replace(/\/+$/, '')}/webhooks/${s.id}`,
      credentials: s.sshKeySealed ? 'ssh-key' : s.secretSealed ? (s.oauth ? 'oauth' : s.username ? 'password' : 'token') : 'none',
      sshPublicKey: s.sshPublicKey,
      status: s.status,
      statusReason: s.statusReason,
      statusAt: s.statusAt?.toISOString() ?? null,
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
    };
  }
}
