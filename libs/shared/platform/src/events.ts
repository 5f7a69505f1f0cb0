import { EventDef, PARKED_HEADERS, parkedSubject, STREAMS, StreamName } from '@kiln/contracts';
import { Metrics, METRICS } from './metrics';
import {
  AckPolicy,
  ConsumerMessages,
  DeliverPolicy,
  ErrorCode,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
  NatsError,
  NatsConnection,
  PubAck,
  RetentionPolicy,
  StorageType,
  connect,
  headers as natsHeaders,
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
  ) {
    this.js = nc.jetstream();
  }

  static async connect(auth: NatsAuth, name: string, logger: JsonLogger): Promise<EventBus> {
    // noAsyncTraces: nats.js would otherwise build an Error (a stack capture) for every request and publish ack,
    // only to improve timeout stack traces; that was ~6% of webhook-ingest's CPU under load.
    const options = natsOptions(auth, name);
    const nc = await connect({ ...options, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true });
    return new EventBus(nc, await nc.jetstreamManager(), logger);
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
   * Through nats.js' own `js.publish`: on 2026-12-03 `scripts/kiln bench webhook-ingest` gave 0.38x the bare server
   * (p99 19 ms; #18's goal is 0.30x and 25 ms), against 0.45x for the hand-written publisher it replaced (webhook-ingest
   * 152 against 119 us of CPU per push).
   */
  publish<T>(def: EventDef<T>, payload: T, opts: { msgId?: string; subject?: string; timeoutMs?: number } = {}): Promise<PubAck> {
    const data = Buffer.from(JSON.stringify(payload), 'utf8');
    return new Promise<PubAck>((resolve, reject) => {
      this.outbox.push(
        () => void this.js.publish(opts.subject ?? def.subject, data, { msgID: opts.msgId, timeout: opts.timeoutMs ?? 5000 }).then(resolve, (err: unknown) => reject(this.publishFailure(err))),
      );
      if (this.outbox.length === 1) setImmediate(() => this.drainOutbox());
    });
  }

  private outbox: Array<() => void> = [];
  private closing = false;

  /** nats.js says `503` or `TIMEOUT`; the log and the caller get what happened to the message. */
  private publishFailure(err: unknown): Error {
    const e = err as NatsError;
    if (e?.code === ErrorCode.NoResponders) return new Error('no JetStream stream stores this subject (no responders)');
    if (e?.code === ErrorCode.Timeout)
      return new Error(this.closing || this.nc.isClosed() ? 'the connection to NATS closed before JetStream acknowledged the message' : 'timed out waiting for JetStream to store the message');
    const api = e?.api_error;
    if (api) return new Error(`JetStream refused the message: ${api.description ?? 'no reason given'} (code ${api.code ?? '?'}, err_code ${api.err_code ?? '?'})`);
    return err instanceof Error ? err : new Error(String(err));
  }

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
    this.closing = true;
    for (const m of this.running) m.stop();
    this.running.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.writers]), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    if (!this.nc.isClosed()) await this.nc.drain();
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
