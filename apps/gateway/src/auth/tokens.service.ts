import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { KILN_CONFIG } from '@kiln/platform';
import { GatewayConfig } from '../config';
import { ApiTokenEntity } from './api-token.entity';

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

@Injectable()
export class TokensService implements OnApplicationBootstrap {
  constructor(
    @InjectRepository(ApiTokenEntity) private readonly tokens: Repository<ApiTokenEntity>,
    @Inject(KILN_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** The configured admin token is (re)registered at every start; changing it in config replaces the old one. */
  async onApplicationBootstrap(): Promise<void> {
    const hash = hashToken(this.config.KILN_ADMIN_TOKEN);
    await this.tokens.manager.transaction(async (tx) => {
      await tx.delete(ApiTokenEntity, { name: 'admin (configured)' });
      await tx.insert(ApiTokenEntity, { id: randomUUID(), name: 'admin (configured)', tokenHash: hash, role: 'admin', namespaces: ['*'] });
    });
  }

  findByToken(token: string): Promise<ApiTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash: hashToken(token) });
  }
}
