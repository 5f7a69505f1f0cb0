import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, Repository } from 'typeorm';
import { z } from 'zod';
import { matchTrigger, NotFoundError, parseRef, renderTag, UnprocessableError, ValidationError } from '@kiln/domain';
import { BuildArgView, BuildRuleInput, BuildRuleView, Page, PreviewResult, RetentionPolicy, ruleDeletedV1 } from '@kiln/contracts';
import { checkUrlField, EventBus, JsonLogger, KILN_CONFIG } from '@kiln/platform';
import { HostsService } from '../hosts/hosts.service';
import { RulesConfig } from '../config';
import { SecretBox } from '../crypto/secret-box';
import { SECRET_BOX } from '../crypto/tokens';
import { SourcesService } from '../sources/sources.service';
import { RegistriesService } from '../registries/registries.service';
import { BuildRuleEntity } from './build-rule.entity';
import { describeTrigger, repositoryKey, validateImageRepository, validateRule, ValidRule } from './rule-input';

@Injectable()
export class RulesService {
  constructor(
    @InjectRepository(BuildRuleEntity) private readonly rules: Repository<BuildRuleEntity>,
    private readonly sources: SourcesService,
    private readonly bus: EventBus,
    @Inject(KILN_CONFIG) private readonly config: RulesConfig,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    private readonly hosts: HostsService,
    private readonly logger: JsonLogger,
    private readonly registries: RegistriesService,
  ) {}

  /** A rule may name only registries that exist. */
  private async checkRegistries(rule: ValidRule): Promise<void> {
    if (rule.pushRegistryId) await this.registries.checkExist([rule.pushRegistryId], 'pushRegistryId');
    await this.registries.checkExist(rule.pullRegistryIds, 'pullRegistryIds');
  }

  async create(namespace: string, imageRepository: string, input: BuildRuleInput): Promise<BuildRuleView> {
    validateImageRepository(namespace, imageRepository);
    const sourceId = typeof input?.sourceId === 'string' ? input.sourceId : '';
    const source = await this.sources.entity(sourceId).catch(() => null);
    const rule = validateRule(input, source?.provider ?? null);
    if (!source) throw new ValidationError([{ field: 'sourceId', message: `no source ${sourceId}` }]);
    if (source.provider === 'git') await checkUrlField(this.sources.hosts, 'repository', rule.repository);
    await this.checkRegistries(rule);
    const entity = this.rules.create({ id: randomUUID(), namespace, imageRepository, name: `${namespace}/${imageRepository}: ${describeTrigger(rule.trigger)}`, buildSecretsSealed: null });
    const sealed = this.sealArgs(rule, null);
    // With registerWebhook, the rule exists only if the host took the webhook (or one was already there).
    const saved = await this.rules.manager.transaction(async (tx) => {
      const row = await tx.save(applyRule(entity, rule, sealed));
      if (rule.registerWebhook) await this.hosts.ensureWebhook(tx, source, rule.repository, repositoryKey(rule.repository));
      return row;
    });
    return toView(await this.entity(saved.id));
  }

  /** Any field may change; the whole rule is validated again and applies from the next event. */
  async update(id: string, patch: Partial<BuildRuleInput>): Promise<BuildRuleView> {
    const current = await this.entity(id);
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new ValidationError([{ field: '(body)', message: 'must be an object' }]);
    const merged: Record<string, unknown> = {
      name: current.name,
      sourceId: current.sourceId,
      repository: current.repository,
      trigger: current.trigger,
      dockerfilePath: current.dockerfilePath,
      contextDir: current.contextDir,
      tagRule: current.tagRule,
      autoTrigger: current.autoTrigger,
      timeoutSeconds: current.timeoutSeconds,
      buildArgs: current.buildArgs,
      cancelSuperseded: current.cancelSuperseded,
      submodules: current.submodules,
      retention: current.retention,
      target: current.target,
      platforms: current.platforms,
      pushRegistryId: current.pushRegistryId,
      pullRegistryIds: current.pullRegistryIds,
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    };
    const source = await this.sources.entity(String(merged.sourceId)).catch(() => null);
    const rule = validateRule(merged, source?.provider ?? null);
    if (!source) throw new ValidationError([{ field: 'sourceId', message: `no source ${merged.sourceId}` }]);
    if (source.provider === 'git') await checkUrlField(this.sources.hosts, 'repository', rule.repository);
    await this.checkRegistries(rule);
    await this.rules.save(applyRule(current, rule, this.sealArgs(rule, current.buildSecretsSealed)));
    return toView(await this.entity(id));
  }

  /**
   * Plain arguments are stored as given; secret values are sealed together. A secret sent without a value keeps
   * the stored one (the API never shows it, so clients cannot send it back).
   */
  private sealArgs(rule: ValidRule, previousSealed: string | null): { args: BuildArgView[]; sealed: string | null } {
    const previous: Record<string, string> = previousSealed ? JSON.parse(this.box.open(previousSealed)) : {};
    const secrets: Record<string, string> = {};
    const problems: Array<{ field: string; message: string }> = [];
    const args = rule.buildArgs.map((a, i): BuildArgView => {
      if (!a.secret) return { name: a.name, value: a.value ?? '', secret: false };
      const value = a.value ?? previous[a.name];
      if (value === undefined) problems.push({ field: `buildArgs.${i}.value`, message: 'a new secret needs a value' });
      else secrets[a.name] = value;
      return { name: a.name, secret: true };
    });
    if (problems.length > 0) throw new ValidationError(problems);
    return { args, sealed: Object.keys(secrets).length > 0 ? this.box.seal(JSON.stringify(secrets)) : null };
  }

  /** The values of a rule's secret build arguments, for the worker that runs its build. */
  async buildSecrets(ruleId: string, names: string[]): Promise<Record<string, string>> {
    const rule = await this.entity(ruleId);
    const all: Record<string, string> = rule.buildSecretsSealed ? JSON.parse(this.box.open(rule.buildSecretsSealed)) : {};
    const missing = names.filter((n) => all[n] === undefined);
    if (missing.length > 0) throw new UnprocessableError('BuildArgMissing', `the rule no longer has the secret build argument(s) ${missing.join(', ')}`);
    return Object.fromEntries(names.map((n) => [n, all[n]]));
  }

  async retentionPolicies(): Promise<Array<{ ruleId: string; retention: RetentionPolicy }>> {
    const rows = await this.rules.createQueryBuilder('r').select(['r.id', 'r.retention']).where('r.retention IS NOT NULL').getMany();
    return rows.map((r) => ({ ruleId: r.id, retention: r.retention as RetentionPolicy }));
  }

  async setAutoTrigger(id: string, enabled: unknown): Promise<BuildRuleView> {
    if (typeof enabled !== 'boolean') throw new ValidationError([{ field: 'enabled', message: 'must be true or false' }]);
    const rule = await this.entity(id);
    await this.rules.update({ id: rule.id }, { autoTrigger: enabled });
    return toView(await this.entity(id));
  }

  /** Past builds stay readable, marked as from a deleted rule; a running build finishes. */
  async delete(id: string): Promise<{ deleted: true }> {
    await this.rules.manager.transaction(async (tx) => {
      const rule = await tx.findOne(BuildRuleEntity, { where: { id }, lock: { mode: 'pessimistic_write' }, loadEagerRelations: false });
      if (!rule) throw new NotFoundError('build rule', id);
      await tx.delete(BuildRuleEntity, { id });
      // The last rule of a repository takes Kiln's registered webhook with it; a host that cannot be reached
      // does not block the delete (the record stays, and says so in the log).
      await this.hosts
        .releaseWebhook(tx, rule.sourceId, rule.repositoryKey)
        .catch((err: unknown) => this.logger.warn({ msg: 'could not remove the webhook Kiln registered; remove it on the host', ruleId: id, err: String(err) }, 'RulesService'));
      // Stored before the delete commits: if it cannot be stored, nothing is deleted.
      await this.bus.publish(ruleDeletedV1, { ruleId: id, at: new Date().toISOString() }, { msgId: `rule-deleted:${id}` });
    });
    return { deleted: true };
  }

  /** Would the rule fire for this ref, and which tag would it produce now? */
  async preview(id: string, ref: unknown, commit: unknown): Promise<PreviewResult> {
    checkPreviewInput(ref, commit);
    return this.render(await this.entity(id), ref as string, commit as string);
  }

  /** A preview of a rule as written, before it is saved: checked as a create would check it; nothing is written. */
  async previewDraft(namespace: string, imageRepository: string, input: unknown, ref: unknown, commit: unknown): Promise<PreviewResult> {
    validateImageRepository(namespace, imageRepository);
    const rule = validateRule(input, null);
    checkPreviewInput(ref, commit);
    return this.render({ ...rule, namespace, imageRepository }, ref as string, commit as string);
  }

  private render(rule: Pick<BuildRuleEntity, 'trigger' | 'tagRule' | 'autoTrigger' | 'namespace' | 'imageRepository'>, ref: string, commit: string): PreviewResult {
    const match = matchTrigger(rule.trigger, { ref, deleted: false });
    const parsed = parseRef(ref);
    const tag = renderTag(rule.tagRule, { refName: parsed.type === 'other' ? commit.slice(0, 12) : parsed.name, commit, time: new Date() });
    const reason = !match.matched ? (match.reason ?? 'the trigger does not match') : !rule.autoTrigger ? 'auto-trigger is off: pushes build nothing (build now still works)' : null;
    return { wouldFire: reason === null, reason, tag, image: `${this.config.KILN_REGISTRY}/${rule.namespace}/${rule.imageRepository}:${tag}` };
  }

  async list(q: { namespace?: string; imageRepository?: string; cursor?: string; limit?: number }): Promise<Page<BuildRuleView>> {
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 200);
    const qb = this.rules
      .createQueryBuilder('r')
      .leftJoinAndSelect('r.source', 's')
      .orderBy('r.created_at', 'ASC')
      .addOrderBy('r.id', 'ASC')
      .limit(limit + 1);
    if (q.namespace) qb.andWhere('r.namespace = :ns', { ns: q.namespace });
    if (q.imageRepository) qb.andWhere('r.image_repository = :img', { img: q.imageRepository });
    if (q.cursor) {
      const [at, id] = Buffer.from(q.cursor, 'base64url').toString().split('|');
      if (!at || !id) throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
      qb.andWhere('(r.created_at, r.id) > (:at, :id)', { at, id });
    }
    const rows = await qb.getMany();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toView),
      nextCursor: rows.length > limit && last ? Buffer.from(`${last.createdAt.toISOString()}|${last.id}`).toString('base64url') : null,
    };
  }

  async get(id: string): Promise<BuildRuleView> {
    return toView(await this.entity(id));
  }

  async entity(id: string): Promise<BuildRuleEntity> {
    const found = z.string().uuid().safeParse(id).success ? await this.rules.findOneBy({ id }) : null;
    if (!found) throw new NotFoundError('build rule', id);
    return found;
  }

  /** The rules with these ids (those a batch of pushes matched), oldest first. */
  byIds(ids: string[]): Promise<BuildRuleEntity[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.rules.find({ where: { id: In(ids) }, order: { createdAt: 'ASC' } });
  }
}

/** Copy a validated rule onto its entity (the name is kept unless one was given). */
function applyRule(entity: BuildRuleEntity, rule: ValidRule, args: { args: BuildArgView[]; sealed: string | null }): BuildRuleEntity {
  return Object.assign(entity, {
    // The loaded relation would override a changed sourceId on save; the column is the truth here.
    source: undefined,
    name: rule.name ?? entity.name,
    sourceId: rule.sourceId,
    repository: rule.repository,
    repositoryKey: repositoryKey(rule.repository),
    trigger: rule.trigger,
    dockerfilePath: rule.dockerfilePath,
    contextDir: rule.contextDir,
    tagRule: rule.tagRule,
    autoTrigger: rule.autoTrigger,
    timeoutSeconds: rule.timeoutSeconds,
    buildArgs: args.args,
    buildSecretsSealed: args.sealed,
    cancelSuperseded: rule.cancelSuperseded,
    submodules: rule.submodules,
    retention: rule.retention,
    target: rule.target,
    platforms: rule.platforms,
    pushRegistryId: rule.pushRegistryId,
    pullRegistryIds: rule.pullRegistryIds,
  });
}

export function toView(r: BuildRuleEntity): BuildRuleView {
  return {
    id: r.id,
    name: r.name,
    namespace: r.namespace,
    imageRepository: r.imageRepository,
    sourceId: r.sourceId,
    repository: r.repository,
    trigger: r.trigger,
    dockerfilePath: r.dockerfilePath,
    contextDir: r.contextDir,
    tagRule: r.tagRule,
    autoTrigger: r.autoTrigger,
    timeoutSeconds: r.timeoutSeconds,
    buildArgs: r.buildArgs,
    cancelSuperseded: r.cancelSuperseded,
    submodules: r.submodules,
    retention: r.retention,
    target: r.target,
    platforms: r.platforms ?? [],
    pushRegistryId: r.pushRegistryId,
    pullRegistryIds: r.pullRegistryIds ?? [],
    source: { status: r.source?.status ?? 'ok', statusReason: r.source?.statusReason ?? null, statusAt: r.source?.statusAt?.toISOString() ?? null },
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

function checkPreviewInput(ref: unknown, commit: unknown): void {
  const problems = [];
  if (typeof ref !== 'string' || !ref.startsWith('refs/')) problems.push({ field: 'ref', message: 'must be a full ref such as refs/heads/main or refs/tags/v1' });
  if (typeof commit !== 'string' || !/^[0-9a-f]{7,64}$/i.test(commit)) problems.push({ field: 'commit', message: 'must be a commit id (hex)' });
  if (problems.length > 0) throw new ValidationError(problems);
}
