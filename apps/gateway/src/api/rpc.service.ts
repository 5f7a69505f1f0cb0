import { Inject, Injectable } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { RpcDef } from '@kiln/contracts';
import { callRpc, NATS_CLIENT } from '@kiln/platform';

/** The gateway owns no product data: it authenticates, then asks the owning service. */
@Injectable()
export class Rpc {
  constructor(@Inject(NATS_CLIENT) private readonly client: ClientProxy) {}

  call<Req, Res>(def: RpcDef<Req, Res>, req: Req): Promise<Res> {
    return callRpc(this.client, def, req);
  }
}
