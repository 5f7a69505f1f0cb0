import { EventDef, PARKED_HEADERS, parkedSubject, STREAMS, StreamName } from '@kiln/contracts';
import { Metrics, METRICS } from './metrics';
import {
  AckPolicy,
  ConsumerMessages,
  DeliverPolicy,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
  NatsConnection,
  PubAck,
  RetentionPolicy,
  StorageType,
  Subscription,
  connect,
  createInbox,
  headers as natsHeaders,
  Msg,
  MsgHdrs,
  nanos,
} from 'nats';
import { JsonLogger } from './logger';
import { NatsAuth, natsOptions } from './config';

const DAY_MS = 24 * 60 * 60 * 1000;

const STREAM_LIMITS: Record<StreamName, { maxAgeMs: number; duplicateWindowMs: number }> = {
  // Hosts redeliver for hours; the duplicate window must cover that.
  KILN_EVENTS: { maxAgeMs: 14 * DAY_MS, duplicateWindowMs: DAY_MS },
  KILN_BUILDS: { maxAgeMs: 7 * DAY_MS, duplicateWindowMs: 10 * 60 * 1000 },
  KILN_LOGS: { maxAgeMs: 3 * DAY_MS, duplicateWindowMs: 10 * 60 * 1000 },
  // An operator reads these when a producer and a consumer disagree; a month is time enough to notice.
  KILN_PARKED: { maxAgeMs: 30 * DAY_MS, duplicateWindowMs: 10 * 60 * 1000 },
};

export interface Delivered<T> {
  payload: T;
  /** The payload's JSON as received (for handlers that pass it on, e.g. into a jsonb column, without re-encoding). */
  json: string;
  msg: JsMsg;
}

export interface ConsumeOptions {
  /** Restrict a consumer to part of the stream, e.g. `build.log.v1.>`. Defaults to the event's subject. */
  filterSubject?: string;
  maxAckPendingMessages?: number;
  ackWaitMs?: number;
  /** Largest batch handed to a batch handler. */
  maxBatch?: number;
  /**
   * Batch handlers only: once a message is waiting, wait this long for more before handing the batch over (unless
   * maxBatch are already there). A few milliseconds of delay buy far fewer, larger statements under a steady stream.
   */
  lingerMs?: number;
  /**
   * Batch handlers only: when the handler fails (its database is restarting, say), retry the same batch in place,
   * with backoff, before taking the next one, instead of handing it back to JetStream. Messages are then written
   * in stream order, which readers that page by insertion order rely on.
   */
  retryInPlace?: boolean;
}

/** JetStream: durable publish with deduplication, and durable consumers that ack only after the handler succeeds. */
export class EventBus {
  private readonly js: JetStreamClient;
  private readonly publisher: JetStreamPublisher;
  private readonly running = new Set<ConsumerMessages>();
  /** Each consumer's writer: it ends once the messages already taken are handled and acknowledged. */
  private readonly writers = new Set<Promise<void>>();
  /** The durable consumers this bus runs, for the consumer-lag gauge. */
  private readonly consumers = new Map<string, { stream: string; durable: string }>();
  private readonly decoder = new TextDecoder();

  private constructor(
    readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly logger: JsonLogger,
    inboxPrefix: string,
  ) {
    this.js = nc.jetstream();
    this.publisher = new JetStreamPublisher(nc, inboxPrefix);
  }

  static async connect(auth: NatsAuth, name: string, logger: JsonLogger): Promise<EventBus> {
    // noAsyncTraces: nats.js would otherwise build an Error (a stack capture) for every request and publish ack,
    // only to improve timeout stack traces; that was ~6% of webhook-ingest's CPU under load.
    const options = natsOptions(auth, name);
    const nc = await connect({ ...options, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true });
    return new EventBus(nc, await nc.jetstreamManager(), logger, options.inboxPrefix);
  }

  /**
   * Create or update every Kiln stream, stored on `replicas` servers of the NATS cluster (KILN_STREAM_REPLICAS: 1 on
   * one server, 3 on a three-node cluster). Idempotent; safe from many replicas of an app at once.
   */
  async ensureStreams(replicas = 1): Promise<void> {
    for (const [name, def] of Object.entries(STREAMS) as Array<[StreamName, (typeof STREAMS)[StreamName]]>) {
      const limits = STREAM_LIMITS[name];
      const config = {
        name,
        subjects: def.subjects,
        description: def.description,
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        max_age: nanos(limits.maxAgeMs),
        duplicate_window: nanos(limits.duplicateWindowMs),
        num_replicas: replicas,
      };
      try {
        await this.jsm.streams.info(name);
        await this.jsm.streams.update(name, config);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        try {
          await this.jsm.streams.add(config);
        } catch (addErr) {
          // Another replica created it between our look-up and add.
          if (!String(addErr).includes('already in use')) throw addErr;
        }
      }
    }
  }

  /**
   * Resolves only once JetStream has stored the message (PubAck). `duplicate` is true for a repeated msgId.
   * Publishes asked for during one turn of the event loop leave together at its end: nats.js then writes them to
   * the socket in one go instead of one write each (under load, one write per HTTP request was webhook-ingest's
   * largest single cost). Each message still gets, and waits for, its own ack.
   */
  publish<T>(def: EventDef<T>, payload: T, opts: { msgId?: string; subject?: string; timeoutMs?: number } = {}): Promise<PubAck> {
    const data = Buffer.from(JSON.stringify(payload), 'utf8');
    return new Promise<PubAck>((resolve, reject) => {
      this.outbox.push(() => this.publisher.publish(opts.subject ?? def.subject, data, opts.msgId, opts.timeoutMs ?? 5000, resolve, reject));
      if (this.outbox.length === 1) setImmediate(() => this.drainOutbox());
    });
  }

  private outbox: Array<() => void> = [];

  private drainOutbox(): void {
    const batch = this.outbox;
    this.outbox = [];
    for (const send of batch) send();
  }

  /** One message at a time; acked after the handler resolves, redelivered (with backoff) when it throws. */
  async consume<T>(def: EventDef<T>, durable: string, handler: (payload: T, msg: JsMsg) => Promise<void>, opts: ConsumeOptions = {}): Promise<void> {
    await this.consumeBatches(
      def,
      durable,
      async (batch) => {
        for (const item of batch) {
          try {
            await handler(item.payload, item.msg);
            item.msg.ack();
          } catch (err) {
            const refused = refusedByDatabase(err);
            if (refused) await this.park(durable, item.msg, refused);
            else this.retryLater(durable, item.msg, err);
          }
        }
      },
      { ...opts, maxBatch: 1, manualAck: true },
    );
  }

  /**
   * Batches form by themselves: the handler gets whatever arrived while the previous batch was being written,
   * up to `maxBatch`. The whole batch is acked after the handler resolves, or redelivered when it throws.
   */
  async consumeBatches<T>(def: EventDef<T>, durable: string, handler: (batch: Delivered<T>[]) => Promise<void>, opts: ConsumeOptions & { manualAck?: boolean } = {}): Promise<void> {
    const filter = opts.filterSubject ?? def.subject;
    const ackWaitMs = opts.ackWaitMs ?? 30_000;
    await this.ensureConsumer(def.stream, durable, filter, ackWaitMs, opts.maxAckPendingMessages ?? 10_000);
    this.consumers.set(`${def.stream}/${durable}`, { stream: def.stream, durable });
    const consumer = await this.js.consumers.get(def.stream, durable);
    const maxBatch = opts.maxBatch ?? 500;
    const messages = await consumer.consume({ max_messages: Math.max(maxBatch * 2, 100) });
    this.running.add(messages);
    const queue: Delivered<T>[] = [];
    const state: { wake: (() => void) | null; done: boolean } = { wake: null, done: false };
    // Receiver: decode into a queue. Writer: drain it; whatever arrives during one write forms the next batch.
    void (async () => {
      for await (const msg of messages) {
        const json = this.decoder.decode(msg.data);
        const refused = readPayload(def, json);
        if ('reason' in refused) {
          await this.park(durable, msg, refused.reason);
          continue;
        }
        queue.push({ payload: refused.payload, json, msg });
        state.wake?.();
      }
    })()
      .catch((err) => this.logger.error({ msg: 'consumer stopped', durable, err: String(err) }, 'EventBus'))
      .finally(() => {
        state.done = true;
        state.wake?.();
      });
    const writer = (async () => {
      while (!state.done || queue.length > 0) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => (state.wake = resolve));
          state.wake = null;
          continue;
        }
        if (opts.lingerMs && queue.length < maxBatch && !state.done) await new Promise((r) => setTimeout(r, opts.lingerMs));
        const batch = queue.splice(0, maxBatch);
        for (let attempt = 0; ; attempt++) {
          try {
            await handler(batch);
            if (!opts.manualAck) for (const item of batch) item.msg.ack();
            break;
          } catch (err) {
            if (!opts.retryInPlace || state.done) {
              for (const item of batch) this.retryLater(durable, item.msg, err);
              break;
            }
            const delayMs = Math.min(5_000, 250 * 2 ** Math.min(attempt, 5));
            this.logger.warn({ msg: 'batch handler failed; retrying the same batch', durable, messages: batch.length, attempt: attempt + 1, delayMs, err: String(err) }, 'EventBus');
            // Keep JetStream from redelivering what is still being retried here.
            for (const item of batch) item.msg.working();
            await new Promise((r) => setTimeout(r, delayMs));
          }
        }
      }
    })();
    this.writers.add(writer);
    void writer.finally(() => this.writers.delete(writer));
  }

  /**
   * A message that fails its schema is never handed to the handler, nor retried: it is copied, with why, to the
   * KILN_PARKED stream (`kiln.parked.v1.<consumer>`) and terminated. Should parking itself fail, the message is
   * redelivered later instead, so nothing is lost. (Parked once per message and consumer: a stream that was recreated
   * numbers its messages anew, so the time the message was stored is part of its key.)
   */
  /** `kiln_jetstream_consumer_pending`: each consumer's lag (not yet delivered) and unacknowledged messages, read at scrape time. */
  instrument(metrics: Metrics): void {
    metrics.gauge(METRICS.consumerPending, async (gauge) => {
      gauge.reset();
      for (const { stream, durable } of this.consumers.values()) {
        const info = await this.jsm.consumers.info(stream, durable).catch(() => null);
        if (!info) continue;
        gauge.set({ stream, consumer: durable, kind: 'pending' }, info.num_pending);
        gauge.set({ stream, consumer: durable, kind: 'ack_pending' }, info.num_ack_pending);
      }
    });
  }

  /**
   * Take a message out of its consumer for good, into KILN_PARKED with why (see above): for a message no redelivery
   * can help, refused by its schema here, or by a handler (`refusedByDatabase`, say).
   */
  async park(durable: string, msg: JsMsg, reason: string): Promise<void> {
    this.logger.error({ msg: 'message refused; parked', durable, subject: msg.subject, seq: msg.seq, reason }, 'EventBus');
    const h = natsHeaders();
    h.set(PARKED_HEADERS.subject, msg.subject);
    h.set(PARKED_HEADERS.stream, msg.info.stream);
    h.set(PARKED_HEADERS.seq, String(msg.seq));
    h.set(PARKED_HEADERS.consumer, durable);
    h.set(PARKED_HEADERS.reason, reason.replace(/[\r\n]+/g, ' ').slice(0, 2000));
    try {
      await this.js.publish(parkedSubject(durable), msg.data, { headers: h, msgID: `${msg.info.stream}:${msg.seq}:${msg.info.timestampNanos}:${durable}` });
      msg.term(reason.slice(0, 200));
    } catch (err) {
      this.logger.error({ msg: 'could not park a refused message; it will be redelivered', durable, seq: msg.seq, err: String(err) }, 'EventBus');
      msg.nak(30_000);
    }
  }

  private retryLater(durable: string, msg: JsMsg, err: unknown): void {
    const delayMs = Math.min(30_000, 500 * 2 ** Math.min(msg.info.redeliveryCount, 6));
    this.logger.warn({ msg: 'handler failed; message will be redelivered', durable, subject: msg.subject, seq: msg.seq, delayMs, err: String(err) }, 'EventBus');
    msg.nak(delayMs);
  }

  private async ensureConsumer(stream: string, durable: string, filter: string, ackWaitMs: number, maxAckPending: number): Promise<void> {
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filter,
      ack_wait: nanos(ackWaitMs),
      max_ack_pending: maxAckPending,
    };
    try {
      await this.jsm.consumers.info(stream, durable);
      await this.jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait, max_ack_pending: maxAckPending, filter_subject: filter });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.jsm.consumers.add(stream, config);
    }
  }

  get connected(): boolean {
    return !this.nc.isClosed();
  }

  /**
   * Stops taking messages, lets each consumer handle and acknowledge what it already took (for up to 10 s), then
   * drains the connection, which delivers those acks. What was taken but not handled is redelivered after ack wait.
   */
  async close(): Promise<void> {
    for (const m of this.running) m.stop();
    this.running.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.writers]), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    if (!this.nc.isClosed()) await this.nc.drain();
    this.publisher.close();
  }
}

/** The payload, parsed through its schema; or why it is refused (unreadable JSON, or the fields that failed). */
export function readPayload<T>(def: EventDef<T>, json: string): { payload: T } | { reason: string } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { reason: `not JSON: ${(err as Error).message}` };
  }
  const parsed = def.schema.safeParse(data);
  if (parsed.success) return { payload: parsed.data };
  return { reason: `fails ${def.subject}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ')}` };
}

function isNotFound(err: unknown): boolean {
  const text = String((err as { message?: string })?.message ?? err);
  return text.includes('not found');
}

interface PendingPublish {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
  deadline: number;
}

/**
 * JetStream publishes with their acks on one inbox subscription of this connection, each publish waiting in a map
 * under its own reply token, and one timer for all their deadlines; built on nats.js' public API only (subscribe,
 * publish with a reply subject, headers). nats.js 2.29's own `js.publish` does the same over a request object, a
 * header-validating wrapper and a timer per message: measured on 2026-12-01 with `scripts/kiln bench webhook-ingest`,
 * it took Kiln from 0.44× to 0.21× of the bare server's rate (webhook-ingest 124 → 350 µs and nats-server 56 → 252 µs
 * of CPU per push), below the 0.30× goal.
 * The protocol is JetStream's own: an HPUB with a reply subject and `Nats-Msg-Id`, answered by a PubAck
 * (`{"stream","seq","duplicate"}`) or an API error (`{"error":{"code","err_code","description"}}`), or by a
 * 503 status with no body when no stream takes the subject.
 */
export class JetStreamPublisher {
  private readonly prefix: string;
  private readonly pending = new Map<string, PendingPublish>();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    inboxPrefix: string,
  ) {
    this.prefix = createInbox(inboxPrefix);
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (err, msg) => (err ? this.failAll(err) : this.settle(msg)) });
    this.timer = setInterval(() => this.expire(), 100);
    this.timer.unref();
  }

  publish(subject: string, data: Uint8Array, msgId: string | undefined, timeoutMs: number, resolve: (ack: PubAck) => void, reject: (err: Error) => void): void {
    const token = (this.next++).toString(36);
    let hdrs: MsgHdrs | undefined;
    if (msgId) {
      hdrs = natsHeaders();
      hdrs.set('Nats-Msg-Id', msgId);
    }
    try {
      this.nc.publish(subject, data, { reply: `${this.prefix}.${token}`, headers: hdrs });
    } catch (err) {
      return reject(err as Error);
    }
    this.pending.set(token, { resolve, reject, deadline: Date.now() + timeoutMs });
  }

  private settle(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // expired already
    this.pending.delete(token);
    if (msg.data.length === 0) {
      const code = msg.headers?.code;
      return p.reject(new Error(code === 503 ? `no JetStream stream stores this subject (no responders)` : `JetStream answered status ${code ?? 'none'} without a body`));
    }
    let ack: { stream?: string; seq?: number; duplicate?: boolean; domain?: string; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = JSON.parse(DECODER.decode(msg.data));
    } catch {
      return p.reject(new Error('JetStream answered a publish with an unreadable ack'));
    }
    if (ack.error) return p.reject(new Error(`JetStream refused the message: ${ack.error.description ?? 'no reason given'} (code ${ack.error.code ?? '?'}, err_code ${ack.error.err_code ?? '?'})`));
    if (!ack.stream || typeof ack.seq !== 'number') return p.reject(new Error('JetStream answered a publish with an invalid ack'));
    p.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true, ...(ack.domain ? { domain: ack.domain } : {}) });
  }

  private expire(): void {
    if (this.pending.size === 0) return;
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(new Error('timed out waiting for JetStream to store the message'));
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  close(): void {
    clearInterval(this.timer);
    this.failAll(new Error('the connection to NATS is closing'));
    if (!this.nc.isClosed()) this.sub.unsubscribe();
  }
}

const DECODER = new TextDecoder();

/**
 * Why redelivering a message can never help, when the database refused its data: PostgreSQL's data exceptions and
 * integrity violations (SQLSTATE classes 22 and 23: a time out of range, a byte sequence text cannot hold, a row that
 * names what does not exist). Null for every other error (the database away, a service busy), which may pass.
 */
export function refusedByDatabase(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^2[23][0-9A-Z]{3}$/.test(code)) return null;
  return `the database refuses the message's data (SQLSTATE ${code}): ${err instanceof Error ? err.message : String(err)}`;
}
