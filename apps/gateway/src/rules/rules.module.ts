import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RpcModule } from '../common/rpc.module';
import { RulesApiController } from './rules.controller';

@Module({ imports: [AuthModule, RpcModule], controllers: [RulesApiController] })
export class RulesModule {}
