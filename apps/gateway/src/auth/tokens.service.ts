import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '@kiln/domain';
import { KILN_CONFIG, parseInput } from '@kiln/platform';
import { createTokenSchema, type TokenView } from '@kiln/contracts';
import { GatewayConfig } from '../config';
import { ApiTokenEntity } from './api-token.entity';

const CONFIGURED_ADMIN = 'admin (configured)';

const TOKEN_CACHE_MS = 5_000;

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

@Injectable()
export class TokensService implements OnApplicationBootstrap {
  private readonly cache = new Map<string, { token: ApiTokenEntity; until: number }>();

  constructor(
    @InjectRepository(ApiTokenEntity) private readonly tokens: Repository<ApiTokenEntity>,
    @Inject(KILN_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** The configured admin token is (re)registered at every start; changing it in config replaces the old one. */
  async onApplicationBootstrap(): Promise<void> {
    const hash = hashToken(this.config.KILN_ADMIN_TOKEN);
    await this.tokens.manager.transaction(async (tx) => {
      await tx.delete(ApiTokenEntity, { name: CONFIGURED_ADMIN });
      await tx.insert(ApiTokenEntity, { id: randomUUID(), name: CONFIGURED_ADMIN, tokenHash: hash, role: 'admin', namespaces: ['*'] });
    });
  }

  /** The token itself is in this answer only; Kiln keeps its hash. */
  async create(input: unknown): Promise<TokenView & { token: string }> {
    const req = parseInput(createTokenSchema, input);
    const token = `kiln_${randomBytes(24).toString('base64url')}`;
    const saved = await this.tokens.save(this.tokens.create({ id: randomUUID(), name: req.name, role: req.role, namespaces: [...new Set(req.namespaces)], tokenHash: hashToken(token) }));
    return { ...view(saved), token };
  }

  view(token: ApiTokenEntity): TokenView {
    return view(token);
  }

  async list(): Promise<{ items: TokenView[]; nextCursor: null }> {
    return { items: (await this.tokens.find({ order: { createdAt: 'ASC' } })).map(view), nextCursor: null };
  }

  async delete(id: string): Promise<{ deleted: true }> {
    const found = z.string().uuid().safeParse(id).success ? await this.tokens.findOneBy({ id }) : null;
    if (!found) throw new NotFoundError('token', id);
    if (found.name === CONFIGURED_ADMIN) throw new ConflictError('the configured admin token is replaced by changing KILN_ADMIN_TOKEN, not deleted');
    await this.tokens.delete({ id });
    this.cache.delete(found.tokenHash);
    return { deleted: true };
  }

  /**
   * Tokens are looked up on every call, so known ones are remembered for a few seconds (unknown ones are not).
   * A token deleted through this gateway stops at once; on other gateway replicas within TOKEN_CACHE_MS.
   */
  async findByToken(token: string): Promise<ApiTokenEntity | null> {
    const hash = hashToken(token);
    const cached = this.cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.token;
    const found = await this.tokens.findOneBy({ tokenHash: hash });
    if (found) {
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(hash, { token: found, until: Date.now() + TOKEN_CACHE_MS });
    } else this.cache.delete(hash);
    return found;
  }
}

function view(t: ApiTokenEntity): TokenView {
  return { id: t.id, name: t.name, role: t.role, namespaces: t.namespaces, createdAt: t.createdAt.toISOString() };
}
