import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RpcModule } from '../common/rpc.module';
import { LogsApiController } from './logs.controller';

@Module({ imports: [AuthModule, RpcModule], controllers: [LogsApiController] })
export class LogsModule {}
