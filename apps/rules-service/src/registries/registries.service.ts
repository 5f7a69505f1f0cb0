import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '@kiln/domain';
import { registryInputSchema, registryPatchSchema } from '@kiln/contracts';
import type { Page, RegistryCredentials, RegistryInput, RegistryView } from '@kiln/contracts';
import { parseInput } from '@kiln/platform';
import { SECRET_BOX } from '../crypto/tokens';
import { SecretBox } from '../crypto/secret-box';
import { BuildRuleEntity } from '../rules/build-rule.entity';
import { RegistryEntity } from './registry.entity';

@Injectable()
export class RegistriesService {
  constructor(
    @InjectRepository(RegistryEntity) private readonly registries: Repository<RegistryEntity>,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
  ) {}

  async create(input: RegistryInput): Promise<RegistryView> {
    const r = parseInput(registryInputSchema, input);
    const entity = this.registries.create({ id: randomUUID(), name: r.name ?? r.host, host: r.host, username: r.username, passwordSealed: this.box.seal(r.password), insecure: r.insecure });
    return view(await this.registries.save(entity));
  }

  async list(): Promise<Page<RegistryView>> {
    return { items: (await this.registries.find({ order: { createdAt: 'ASC' } })).map(view), nextCursor: null };
  }

  async get(id: string): Promise<RegistryView> {
    return view(await this.entity(id));
  }

  /** New credentials take effect from the next build; the password is never sent back. */
  async update(id: string, patch: Partial<RegistryInput>): Promise<RegistryView> {
    const p = parseInput(registryPatchSchema, patch ?? {});
    const r = await this.entity(id);
    if (p.name !== undefined) r.name = p.name;
    if (p.host !== undefined) r.host = p.host;
    if (p.username !== undefined) r.username = p.username;
    if (p.insecure !== undefined) r.insecure = p.insecure;
    if (p.password !== undefined) r.passwordSealed = this.box.seal(p.password);
    return view(await this.registries.save(r));
  }

  /** Refused while a rule pushes to it or pulls with it, naming those rules. */
  async delete(id: string): Promise<{ deleted: true }> {
    await this.entity(id);
    const users = await this.registries.manager
      .getRepository(BuildRuleEntity)
      .createQueryBuilder('r')
      .where('r.push_registry_id = :id OR r.pull_registry_ids @> :ids::jsonb', { id, ids: JSON.stringify([id]) })
      .getMany();
    if (users.length > 0) throw new ConflictError(`registry ${id} is used by rules ${users.map((u) => `${u.id} (${u.name})`).join(', ')}: change or delete them first`);
    await this.registries.delete({ id });
    return { deleted: true };
  }

  /** Every id must name a registry; for a rule being saved. */
  async checkExist(ids: string[], field: string): Promise<void> {
    if (ids.length === 0) return;
    const found = new Set((await this.registries.findBy(ids.map((id) => ({ id })))).map((r) => r.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw new ValidationError(missing.map((id) => ({ field, message: `no registry ${id}` })));
  }

  async entity(id: string): Promise<RegistryEntity> {
    const r = z.string().uuid().safeParse(id).success ? await this.registries.findOneBy({ id }) : null;
    if (!r) throw new NotFoundError('registry', id);
    return r;
  }

  /** For the worker running a build: the credentials of the registries its rule names. */
  async credentials(ids: string[]): Promise<RegistryCredentials[]> {
    const out: RegistryCredentials[] = [];
    for (const id of ids) {
      const r = await this.entity(id);
      out.push({ id: r.id, host: r.host, username: r.username, password: this.box.open(r.passwordSealed), insecure: r.insecure });
    }
    return out;
  }
}

function view(r: RegistryEntity): RegistryView {
  return { id: r.id, name: r.name, host: r.host, username: r.username, insecure: r.insecure, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() };
}
