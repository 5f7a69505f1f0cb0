import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { KilnError } from '@kiln/domain';
import { ApiTokenEntity } from './api-token.entity';
import { TokensService } from './tokens.service';

export type AuthedRequest = Request & { token?: ApiTokenEntity };

/** Every /api/v1 call carries `Authorization: Bearer <token>`. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly tokens: TokensService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new KilnError(401, 'Unauthenticated', 'send Authorization: Bearer <token>');
    const token = await this.tokens.findByToken(match[1]);
    if (!token) throw new KilnError(401, 'Unauthenticated', 'the token is not valid');
    req.token = token;
    return true;
  }
}
