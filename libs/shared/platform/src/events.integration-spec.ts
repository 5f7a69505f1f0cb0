import { randomUUID } from 'node:crypto';
import { buildLogSubject, buildLogV1, BuildLogV1 } from '@kiln/contracts';
import { EventBus } from './events';
import { JsonLogger } from './logger';
import { NatsAuth } from './config';

/** The suite's NATS server, as its operators' user (scripts/kiln test exports the credentials). */
const TEST_NATS: NatsAuth = { url: process.env.KILN_TEST_NATS_URL ?? 'nats://127.0.0.1:14222', user: process.env.KILN_TEST_NATS_USER, password: process.env.KILN_TEST_NATS_PASSWORD };

// Batch consumers on the real JetStream the suite starts: what lingering changes about how batches form.
describe('EventBus batch consumers', () => {
  let bus: EventBus;
  const durables: string[] = [];

  beforeAll(async () => {
    bus = await EventBus.connect(TEST_NATS, 'events-spec', new JsonLogger('test', 'error'));
    await bus.ensureStreams();
  });
  afterAll(async () => {
    const jsm = await bus.nc.jetstreamManager();
    for (const d of durables) await jsm.consumers.delete('KILN_LOGS', d).catch(() => undefined);
    await bus.close();
  });

  /** Publishes 5 chunks 20 ms apart to one build's log subject; resolves the batch sizes the handler saw. */
  async function batchesOf(lingerMs: number | undefined): Promise<number[]> {
    const buildId = randomUUID();
    const durable = `spec-${buildId}`;
    durables.push(durable);
    const sizes: number[] = [];
    let seen = 0;
    const all = new Promise<void>((resolve) => {
      void bus.consumeBatches(
        buildLogV1,
        durable,
        async (batch) => {
          sizes.push(batch.length);
          seen += batch.length;
          if (seen === 5) resolve();
        },
        { filterSubject: buildLogSubject(buildId), maxBatch: 100, lingerMs },
      );
    });
    await new Promise((r) => setTimeout(r, 200)); // the consumer is pulling before anything is published
    for (let seq = 0; seq < 5; seq++) {
      const chunk: BuildLogV1 = { buildId, step: 'build', attempt: 1, lines: [{ seq, time: new Date().toISOString(), stream: 'stdout', text: `line ${seq}` }] };
      await bus.publish(buildLogV1, chunk, { subject: buildLogSubject(buildId), msgId: `${buildId}:${seq}` });
      await new Promise((r) => setTimeout(r, 20));
    }
    await all;
    return sizes;
  }

  it('hands over each message as it comes without lingering, and what arrives within the linger as one batch', async () => {
    const eager = await batchesOf(undefined);
    expect(eager.reduce((a, b) => a + b, 0)).toBe(5);
    expect(eager.length).toBeGreaterThan(1);
    expect(await batchesOf(400)).toEqual([5]);
  });
});

// Publishing on the real JetStream: what each kind of answer (or no answer) becomes for the caller.
describe('EventBus publish', () => {
  let bus: EventBus;

  beforeAll(async () => {
    bus = await EventBus.connect(TEST_NATS, 'events-publish-spec', new JsonLogger('test', 'error'));
    await bus.ensureStreams();
  });
  afterAll(() => bus.close());

  const chunk = (buildId: string, seq: number): BuildLogV1 => ({ buildId, step: 'build', attempt: 1, lines: [{ seq, time: '2026-11-27T08:30:15.000Z', stream: 'stdout', text: `line ${seq}` }] });

  it('stores the message once per msgId and answers a repeat as a duplicate of the same sequence', async () => {
    const buildId = randomUUID();
    const subject = buildLogSubject(buildId);
    const first = await bus.publish(buildLogV1, chunk(buildId, 0), { subject, msgId: `${buildId}:0` });
    const again = await bus.publish(buildLogV1, chunk(buildId, 0), { subject, msgId: `${buildId}:0` });
    expect(first).toMatchObject({ stream: 'KILN_LOGS', duplicate: false });
    expect(again).toMatchObject({ stream: 'KILN_LOGS', seq: first.seq, duplicate: true });
    const jsm = await bus.nc.jetstreamManager();
    const stored = await jsm.streams.getMessage('KILN_LOGS', { seq: first.seq });
    expect(stored.subject).toBe(subject);
    expect(stored.header.get('Nats-Msg-Id')).toBe(`${buildId}:0`);
    expect(JSON.parse(new TextDecoder().decode(stored.data))).toEqual(chunk(buildId, 0));
    expect((await jsm.streams.info('KILN_LOGS', { subjects_filter: subject })).state.subjects?.[subject]).toBe(1);
  });

  it('gives each of many publishes of one turn its own ack', async () => {
    const buildId = randomUUID();
    const subject = buildLogSubject(buildId);
    const acks = await Promise.all(Array.from({ length: 300 }, (_, seq) => bus.publish(buildLogV1, chunk(buildId, seq), { subject, msgId: `${buildId}:${seq}` })));
    expect(new Set(acks.map((a) => a.seq)).size).toBe(300);
    expect(acks.every((a) => !a.duplicate)).toBe(true);
    const jsm = await bus.nc.jetstreamManager();
    for (const i of [0, 150, 299]) {
      const stored = await jsm.streams.getMessage('KILN_LOGS', { seq: acks[i].seq });
      expect(JSON.parse(new TextDecoder().decode(stored.data)).lines[0].seq).toBe(i);
    }
  });

  it('fails when no stream takes the subject, when JetStream refuses, and when no ack comes in time', async () => {
    const id = randomUUID();
    await expect(bus.publish(buildLogV1, chunk(id, 0), { subject: `kiln.spec.nostream.${id}` })).rejects.toThrow(/no responders/);

    // A responder answering as JetStream does when it refuses a message (an API error body).
    const refusing = bus.nc.subscribe(`kiln.spec.refuse.${id}`, {
      callback: (_e, m) => m.respond(new TextEncoder().encode(JSON.stringify({ error: { code: 400, err_code: 10060, description: 'expected stream does not match' } }))),
    });
    await bus.nc.flush();
    await expect(bus.publish(buildLogV1, chunk(id, 0), { subject: `kiln.spec.refuse.${id}` })).rejects.toThrow(/refused the message: expected stream does not match \(code 400, err_code 10060\)/);
    refusing.unsubscribe();

    // Something listens but never answers: the publish fails after its timeout, not before.
    const silent = bus.nc.subscribe(`kiln.spec.silent.${id}`);
    await bus.nc.flush();
    const t0 = Date.now();
    await expect(bus.publish(buildLogV1, chunk(id, 0), { subject: `kiln.spec.silent.${id}`, timeoutMs: 300 })).rejects.toThrow(/timed out/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(Date.now() - t0).toBeLessThan(2000);
    silent.unsubscribe();
  });

  it('fails what is published on a closed connection, and what was still waiting for its ack when it closed', async () => {
    const other = await EventBus.connect(TEST_NATS, 'events-publish-closing', new JsonLogger('test', 'error'));
    const id = randomUUID();
    const silent = other.nc.subscribe(`kiln.spec.closing.${id}`);
    await other.nc.flush();
    const waiting = other.publish(buildLogV1, chunk(id, 0), { subject: `kiln.spec.closing.${id}`, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 50)); // on the wire, unanswered
    silent.unsubscribe();
    await other.close();
    await expect(waiting).rejects.toThrow(/closing|closed/);
    await expect(other.publish(buildLogV1, chunk(id, 1), { subject: buildLogSubject(id) })).rejects.toThrow(/closed/i);
  });
});
