import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RpcModule } from '../common/rpc.module';
import { BuildsApiController } from './builds.controller';

@Module({ imports: [AuthModule, RpcModule], controllers: [BuildsApiController] })
export class BuildsModule {}
