import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RpcModule } from '../common/rpc.module';
import { TokensApiController } from './tokens.controller';

@Module({ imports: [AuthModule, RpcModule], controllers: [TokensApiController] })
export class TokensModule {}
