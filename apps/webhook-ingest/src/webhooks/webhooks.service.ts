import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { KV } from 'nats';
import { deterministicId, KilnError, Provider } from '@kiln/domain';
import { deliveryRecordedV1, DeliveryRecordedV1, pushReceivedV1, SOURCE_CHANGED_SUBJECT, SourceWebhookConfig, sourcesWebhookConfig } from '@kiln/contracts';
import { callRpc, EventBus, JsonLogger, Metrics, METRICS, NATS_CLIENT } from '@kiln/platform';
import type { Counter } from 'prom-client';
import { codingAdapter } from './providers/coding';
import { createGiteeAdapter, GITEE_WINDOW_MS } from './providers/gitee';
import { githubAdapter } from './providers/github';
import { gitlabAdapter } from './providers/gitlab';
import { isoNow, stampPush } from './providers/normalize';
import type { Delivery, Outcome, ProviderAdapter } from './providers/types';

const ADAPTERS: Partial<Record<Provider, ProviderAdapter>> = {
  github: githubAdapter,
  gitlab: gitlabAdapter,
  gitee: createGiteeAdapter(),
  coding: codingAdapter,
};

const EVENT_HEADERS = ['x-github-event', 'x-gitlab-event', 'x-gitee-event', 'x-coding-event'];
const REPLAY_BUCKET = 'KILN_WEBHOOK_REPLAY';

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Cached source configs live this long at most; changes are also announced, so this only bounds a lost notice. */
const CONFIG_TTL_MS = 30_000;

@Injectable()
export class WebhooksService implements OnModuleInit {
  private replay: Promise<KV> | null = null;
  private readonly configs = new Map<string, { config: Promise<SourceWebhookConfig>; until: number }>();

  private readonly deliveries: Counter;

  constructor(
    private readonly bus: EventBus,
    @Inject(NATS_CLIENT) private readonly rpc: ClientProxy,
    private readonly logger: JsonLogger,
    metrics: Metrics,
  ) {
    this.deliveries = metrics.counter(METRICS.webhookDeliveries);
  }

  onModuleInit(): void {
    this.bus.nc.subscribe(SOURCE_CHANGED_SUBJECT, { callback: (_err, msg) => this.configs.delete(new TextDecoder().decode(msg.data)) });
  }

  /** The source's provider and secret, from rules-service, cached briefly (one request per source, not per delivery). */
  private sourceConfig(id: string): Promise<SourceWebhookConfig> {
    const now = Date.now();
    const hit = this.configs.get(id);
    if (hit && hit.until > now) return hit.config;
    const config = callRpc(this.rpc, sourcesWebhookConfig, { id });
    this.configs.set(id, { config, until: now + CONFIG_TTL_MS });
    config.catch(() => this.configs.delete(id));
    if (this.configs.size > 10_000) this.configs.delete(this.configs.keys().next().value as string);
    return config;
  }

  /** A delivery's answer, counted by provider and outcome (`kiln_webhook_deliveries_total`). */
  async receive(delivery: Delivery): Promise<WebhookAnswer> {
    // answer() fills in the provider once the source is known, and the outcome where it decides it.
    const counted = { provider: 'unknown', outcome: 'refused' };
    const answer = await this.answer(delivery, counted);
    this.deliveries.inc(counted);
    return answer;
  }

  private async answer(delivery: Delivery, counted: { provider: string; outcome: string }): Promise<WebhookAnswer> {
    const receivedAt = isoNow();
    let eventType: string | null = null;
    for (const h of EVENT_HEADERS) eventType ||= delivery.headers[h] || null;
    let config: SourceWebhookConfig;
    try {
      config = await this.sourceConfig(delivery.sourceId);
    } catch (err) {
      if (err instanceof KilnError && err.status === 404) return { status: 404, body: { code: 'NotFound', message: `source ${delivery.sourceId} does not exist` } };
      if (err instanceof KilnError && err.status === 503) {
        counted.outcome = 'unavailable';
        return { status: 503, body: { code: 'ServiceUnavailable', message: 'cannot look up the source right now; the host will redeliver' } };
      }
      throw err;
    }
    counted.provider = config.provider;
    const adapter = ADAPTERS[config.provider];
    if (!adapter) return { status: 400, body: { code: 'UnsupportedProvider', message: `${config.provider} sources receive no webhooks; use build now` } };
    let outcome: Outcome = adapter.read(delivery, config.webhookSecret);
    // Replays are judged per source: two sources sharing a secret may see the same token and timestamp.
    if (outcome.kind !== 'refused' && outcome.replayKey) outcome = await this.checkReplay(outcome, `${config.id}.${outcome.replayKey}`);

    const record = (o: Omit<DeliveryRecordedV1, 'provider' | 'sourceId' | 'receivedAt' | 'eventType'>) => this.record({ ...o, provider: config.provider, sourceId: config.id, receivedAt, eventType });
    switch (outcome.kind) {
      case 'refused':
        this.logger.warn({ msg: 'webhook refused', sourceId: delivery.sourceId, reason: outcome.reason, status: outcome.status }, 'Webhooks');
        await record({ recordId: randomUUID(), deliveryId: null, outcome: 'refused', status: outcome.status, reason: outcome.reason });
        return { status: outcome.status, body: { code: outcome.status === 401 ? 'SignatureInvalid' : 'BadDelivery', message: outcome.reason } };
      case 'ping': {
        counted.outcome = 'ping';
        const recordId = deterministicId(`${config.provider}:${config.id}:${outcome.deliveryId}`);
        await record({ recordId, deliveryId: outcome.deliveryId, outcome: 'ping', status: 200, reason: null });
        return { status: 200, body: { ok: true, eventId: recordId } };
      }
      case 'ignored': {
        counted.outcome = 'ignored';
        const recordId = deterministicId(`${config.provider}:${config.id}:${outcome.deliveryId}`);
        await record({ recordId, deliveryId: outcome.deliveryId, outcome: 'ignored', status: 202, reason: outcome.reason });
        return { status: 202, body: { eventId: recordId, ignored: true, reason: outcome.reason } };
      }
      case 'event': {
        const eventId = deterministicId(`${config.provider}:${config.id}:${outcome.deliveryId}`);
        const event = stampPush(outcome.event, eventId, config.id, receivedAt);
        try {
          // Deduplicated per source: a host's delivery id is unique per hook, not across Kiln's sources.
          const ack = await this.bus.publish(pushReceivedV1, event, { msgId: `${config.id}:${outcome.deliveryId}` });
          this.logger.debug({ msg: ack.duplicate ? 'duplicate delivery' : 'push stored', eventId, deliveryId: outcome.deliveryId, ref: event.ref, seq: ack.seq }, 'Webhooks');
        } catch (err) {
          this.logger.error({ msg: 'could not store event; answering 503 so the host redelivers', eventId, err: String(err) }, 'Webhooks');
          counted.outcome = 'unavailable';
          return { status: 503, body: { code: 'StoreUnavailable', message: 'the event could not be stored; the host will redeliver' } };
        }
        counted.outcome = 'accepted';
        return { status: 202, body: { eventId } };
      }
    }
  }

  /**
   * The same token and timestamp may come again only as a redelivery of the same request (same delivery id).
   * KV `create` is atomic across replicas; entries expire after the timestamp window.
   */
  private async checkReplay(outcome: Exclude<Outcome, { kind: 'refused' }>, key: string): Promise<Outcome> {
    const kv = await this.replayBucket();
    try {
      await kv.create(key, new TextEncoder().encode(outcome.deliveryId));
      return outcome;
    } catch {
      const seen = await kv.get(key);
      const first = seen ? new TextDecoder().decode(seen.value) : null;
      return first === outcome.deliveryId ? outcome : { kind: 'refused', status: 401, reason: 'replayed X-Gitee-Token and X-Gitee-Timestamp with another body' };
    }
  }

  private replayBucket(): Promise<KV> {
    this.replay ??= this.bus.nc.jetstream().views.kv(REPLAY_BUCKET, { ttl: 2 * GITEE_WINDOW_MS, history: 1 });
    return this.replay;
  }

  /** The ledger keeps every delivery; a ledger outage never changes the answer the host gets. */
  private async record(r: DeliveryRecordedV1): Promise<void> {
    try {
      await this.bus.publish(deliveryRecordedV1, r, { msgId: r.deliveryId ? `record:${r.sourceId}:${r.deliveryId}` : undefined });
    } catch (err) {
      this.logger.error({ msg: 'could not record the delivery in the ledger', sourceId: r.sourceId, outcome: r.outcome, err: String(err) }, 'Webhooks');
    }
  }
}
