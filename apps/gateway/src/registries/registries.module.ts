import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RpcModule } from '../common/rpc.module';
import { RegistriesApiController } from './registries.controller';

@Module({ imports: [AuthModule, RpcModule], controllers: [RegistriesApiController] })
export class RegistriesModule {}
