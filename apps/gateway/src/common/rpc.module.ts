import { Module } from '@nestjs/common';
import { Rpc } from './rpc.service';

/** The gateway's calls to the owning services (NATS request/reply; the NATS client comes from PlatformModule). */
@Module({ providers: [Rpc], exports: [Rpc] })
export class RpcModule {}
