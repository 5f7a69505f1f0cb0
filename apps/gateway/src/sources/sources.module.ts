import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RpcModule } from '../common/rpc.module';
import { SourcesApiController, OAuthCallbackController } from './sources.controller';

@Module({ imports: [AuthModule, RpcModule], controllers: [SourcesApiController, OAuthCallbackController] })
export class SourcesModule {}
