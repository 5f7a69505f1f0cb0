import { Inject, Injectable } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { deterministicId, KilnError, NotFoundError, Provider } from '@kiln/domain';
import { pushReceivedV1, PushReceivedV1, sourcesWebhookConfig } from '@kiln/contracts';
import { callRpc, EventBus, JsonLogger, NATS_CLIENT } from '@kiln/platform';
import { githubAdapter } from './providers/github';
import type { Delivery, ProviderAdapter } from './providers/types';

const ADAPTERS: Partial<Record<Provider, ProviderAdapter>> = { github: githubAdapter };

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

@Injectable()
export class WebhooksService {
  constructor(
    private readonly bus: EventBus,
    @Inject(NATS_CLIENT) private readonly rpc: ClientProxy,
    private readonly logger: JsonLogger,
  ) {}

  async receive(delivery: Delivery): Promise<WebhookAnswer> {
    let config;
    try {
      config = await callRpc(this.rpc, sourcesWebhookConfig, { id: delivery.sourceId });
    } catch (err) {
      if (err instanceof KilnError && err.status === 404) return answer(new NotFoundError('source', delivery.sourceId).toBody());
      if (err instanceof KilnError && err.status === 503) return { status: 503, body: { code: 'ServiceUnavailable', message: 'cannot look up the source right now; the host will redeliver' } };
      throw err;
    }
    const adapter = ADAPTERS[config.provider];
    if (!adapter) return { status: 400, body: { code: 'UnsupportedProvider', message: `webhooks from ${config.provider} sources are not supported yet` } };
    const outcome = adapter.read(delivery, config.webhookSecret);
    switch (outcome.kind) {
      case 'refused':
        this.logger.warn({ msg: 'webhook refused', sourceId: delivery.sourceId, reason: outcome.reason, status: outcome.status }, 'Webhooks');
        return { status: outcome.status, body: { code: outcome.status === 401 ? 'SignatureInvalid' : 'BadDelivery', message: outcome.reason } };
      case 'ping':
        return { status: 200, body: { ok: true, deliveryId: outcome.deliveryId } };
      case 'ignored':
        return { status: 202, body: { ignored: true, reason: outcome.reason, deliveryId: outcome.deliveryId } };
      case 'event': {
        const eventId = deterministicId(`${config.provider}:${delivery.sourceId}:${outcome.deliveryId}`);
        const event: PushReceivedV1 = { ...outcome.event, eventId, sourceId: delivery.sourceId, receivedAt: new Date().toISOString() };
        try {
          const ack = await this.bus.publish(pushReceivedV1, event, { msgId: `${config.provider}:${outcome.deliveryId}` });
          this.logger.log({ msg: ack.duplicate ? 'duplicate delivery' : 'push stored', eventId, deliveryId: outcome.deliveryId, ref: event.ref, seq: ack.seq }, 'Webhooks');
        } catch (err) {
          this.logger.error({ msg: 'could not store event; answering 503 so the host redelivers', eventId, err: String(err) }, 'Webhooks');
          return { status: 503, body: { code: 'StoreUnavailable', message: 'the event could not be stored; the host will redeliver' } };
        }
        return { status: 202, body: { eventId } };
      }
    }
  }
}

function answer(body: { status: number; code: string; message: string }): WebhookAnswer {
  return { status: body.status, body: { code: body.code, message: body.message } };
}
