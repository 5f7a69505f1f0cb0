import { randomUUID } from 'node:crypto';
import { buildLogSubject, buildLogV1, BuildLogV1 } from '@kiln/contracts';
import { EventBus } from './events';
import { JsonLogger } from './logger';

/** The NATS server `scripts/kiln test` starts for the suite. */
const TEST_NATS = process.env.KILN_TEST_NATS_URL ?? 'nats://127.0.0.1:14222';

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
