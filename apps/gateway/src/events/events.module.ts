import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RpcModule } from '../common/rpc.module';
import { EventsApiController } from './events.controller';

@Module({ imports: [AuthModule, RpcModule], controllers: [EventsApiController] })
export class EventsModule {}
