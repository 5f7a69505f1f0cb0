import { randomUUID } from 'node:crypto';
import { buildLogSubject, buildLogV1, BuildLogV1, PARKED_HEADERS, parkedSubject } from '@kiln/contracts';
import { EventBus } from './events';
import { JsonLogger } from './logger';
import { NatsAuth } from './config';

/** The suite's NATS server, as its operators' user (scripts/kiln test exports the credentials). */
const TEST_NATS: NatsAuth = { url: process.env.KILN_TEST_NATS_URL ?? 'nats://127.0.0.1:14222', user: process.env.KILN_TEST_NATS_USER, password: process.env.KILN_TEST_NATS_PASSWORD };

/** Polls until the condition holds (5 s at most). */
async function expectSoon(condition: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + 5000;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

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

  it('parks what fails its schema, with the reason, never hands it to the handler, and goes on with the next', async () => {
    const buildId = randomUUID();
    const durable = `spec-park-${buildId}`;
    durables.push(durable);
    const subject = buildLogSubject(buildId);
    const seen: BuildLogV1[] = [];
    await bus.consume(buildLogV1, durable, async (chunk) => void seen.push(chunk), { filterSubject: subject });
    const js = bus.nc.jetstream();
    // What a producer of another version, or a broken one, might send: a field out of range and one missing; not JSON.
    const wrong = JSON.stringify({ buildId, step: 'build', attempt: 0 });
    await js.publish(subject, wrong);
    await js.publish(subject, 'not json {');
    const good: BuildLogV1 = { buildId, step: 'build', attempt: 1, lines: [{ seq: 0, time: '2026-12-01T08:30:15.000Z', stream: 'stdout', text: 'fine' }] };
    await bus.publish(buildLogV1, good, { subject });
    await expectSoon(() => seen.length === 1);
    expect(seen).toEqual([good]);

    const parked = await js.consumers.get('KILN_PARKED', { filterSubjects: [parkedSubject(durable)] });
    const messages = await parked.fetch({ max_messages: 2, expires: 3000 });
    const got: Array<{ data: string; reason: string | undefined; subject: string | undefined }> = [];
    for await (const m of messages) {
      got.push({ data: new TextDecoder().decode(m.data), reason: m.headers?.get(PARKED_HEADERS.reason), subject: m.headers?.get(PARKED_HEADERS.subject) });
      if (got.length === 2) break;
    }
    expect(got).toEqual([
      { data: wrong, reason: expect.stringMatching(/^fails build\.log\.v1: attempt: .*; lines: Required$/), subject },
      { data: 'not json {', reason: expect.stringMatching(/^not JSON/), subject },
    ]);
    // Refused for good: nothing of them waits for an ack or a redelivery.
    await expectSoon(async () => {
      const info = await (await bus.nc.jetstreamManager()).consumers.info('KILN_LOGS', durable);
      return info.num_ack_pending === 0 && info.num_pending === 0 && info.num_redelivered === 0;
    });
  });

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
