import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiTokenEntity } from './api-token.entity';
import { AuthGuard } from './auth.guard';
import { TokensService } from './tokens.service';

/** API tokens and the guard every API controller uses. */
@Module({ imports: [TypeOrmModule.forFeature([ApiTokenEntity])], providers: [TokensService, AuthGuard], exports: [TokensService, AuthGuard] })
export class AuthModule {}
