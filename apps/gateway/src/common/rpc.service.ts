import { Inject, Injectable } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { NatsConnection } from 'nats';
import { BytesRpcDef, RpcDef } from '@kiln/contracts';
import { BytesAnswer, callBytesRpc, callRpc, NATS_CLIENT, NATS_CONNECTION } from '@kiln/platform';

/** The gateway owns no product data: it authenticates, then asks the owning service. */
@Injectable()
export class Rpc {
  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
  ) {}

  call<Req, Res>(def: RpcDef<Req, Res>, req: Req): Promise<Res> {
    return callRpc(this.client, def, req);
  }

  /** The answer as its JSON bytes and status, for sending on unparsed. */
  bytes<Req, Res>(def: BytesRpcDef<Req, Res>, req: Req): Promise<BytesAnswer> {
    return callBytesRpc(this.nc, def, req);
  }
}
