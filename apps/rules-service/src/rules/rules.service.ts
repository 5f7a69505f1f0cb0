import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '@kiln/domain';
import type { BuildRuleInput, BuildRuleView, Page } from '@kiln/contracts';
import { SourcesService } from '../sources/sources.service';
import { BuildRuleEntity } from './build-rule.entity';
import { describeTrigger, repositoryKey, validateImageRepository, validateRule } from './rule-input';

@Injectable()
export class RulesService {
  constructor(
    @InjectRepository(BuildRuleEntity) private readonly rules: Repository<BuildRuleEntity>,
    private readonly sources: SourcesService,
  ) {}

  async create(namespace: string, imageRepository: string, input: BuildRuleInput): Promise<BuildRuleView> {
    validateImageRepository(namespace, imageRepository);
    const sourceId = typeof input?.sourceId === 'string' ? input.sourceId : '';
    const source = await this.sources.entity(sourceId).catch(() => null);
    const rule = validateRule(input, source?.provider ?? null);
    if (!source) throw new ValidationError([{ field: 'sourceId', message: `no source ${sourceId}` }]);
    const saved = await this.rules.save(
      this.rules.create({
        id: randomUUID(),
        name: rule.name ?? `${namespace}/${imageRepository}: ${describeTrigger(rule.trigger)}`,
        namespace,
        imageRepository,
        sourceId: rule.sourceId,
        repository: rule.repository,
        repositoryKey: repositoryKey(rule.repository),
        trigger: rule.trigger,
        dockerfilePath: rule.dockerfilePath,
        contextDir: rule.contextDir,
        tagRule: rule.tagRule,
        autoTrigger: rule.autoTrigger,
      }),
    );
    return toView(saved);
  }

  async list(q: { namespace?: string; imageRepository?: string; cursor?: string; limit?: number }): Promise<Page<BuildRuleView>> {
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 200);
    const qb = this.rules.createQueryBuilder('r').orderBy('r.created_at', 'ASC').addOrderBy('r.id', 'ASC').limit(limit + 1);
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

  /** Rules of a repository on a source, for matching a push. */
  forRepository(sourceId: string, repoFullName: string): Promise<BuildRuleEntity[]> {
    return this.rules.find({ where: { sourceId, repositoryKey: repositoryKey(repoFullName) }, order: { createdAt: 'ASC' } });
  }
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
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
