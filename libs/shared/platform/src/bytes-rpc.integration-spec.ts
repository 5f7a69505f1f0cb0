import { connect, NatsConnection } from 'nats';
import { z } from 'zod';
import { defineBytesRpc } from '@kiln/contracts';
import { KilnError, NotFoundError } from '@kiln/domain';
import { callBytesRpc, serveBytesRpc } from './bytes-rpc';
import { JsonLogger } from './logger';
import { NatsAuth, natsOptions } from './config';

/** The suite's NATS server, as its operators' user (scripts/kiln test exports the credentials). */
const TEST_NATS: NatsAuth = { url: process.env.KILN_TEST_NATS_URL ?? 'nats://127.0.0.1:14222', user: process.env.KILN_TEST_NATS_USER, password: process.env.KILN_TEST_NATS_PASSWORD };

// Against the real NATS server the suite starts: the answer's bytes, status and errors as the gateway sees them.
describe('bytes RPC over NATS', () => {
  let nc: NatsConnection;
  const subject = `test.bytes.${process.pid}.${Date.now()}`;
  const def = defineBytesRpc(`${subject}.v1`, z.object({ n: z.number().int() })).returns<{ double: number }>();
  const decode = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

  beforeAll(async () => {
    nc = await connect(natsOptions(TEST_NATS, 'bytes-rpc-spec'));
    serveBytesRpc(nc, def, 'test', new JsonLogger('test', 'error'), async ({ n }) => {
      if (n < 0) throw new NotFoundError('number', String(n));
      if (n === 13) throw new Error('unlucky');
      return JSON.stringify({ double: n * 2 });
    });
    await nc.flush();
  });
  afterAll(() => nc.close());

  it('answers with the handler JSON bytes and status 200', async () => {
    const answer = await callBytesRpc(nc, def, { n: 21 });
    expect(answer.status).toBe(200);
    expect(decode(answer.body)).toEqual({ double: 42 });
  });

  it('carries a KilnError as its status and body, and hides anything else behind a 500', async () => {
    const missing = await callBytesRpc(nc, def, { n: -1 });
    expect(missing.status).toBe(404);
    expect(decode(missing.body)).toMatchObject({ status: 404, code: 'NotFound' });
    const broken = await callBytesRpc(nc, def, { n: 13 });
    expect(broken.status).toBe(500);
    expect(decode(broken.body)).toEqual({ status: 500, code: 'InternalError', message: 'internal error; see the service log' });
    expect(new TextDecoder().decode(broken.body)).not.toContain('unlucky');
  });

  it('refuses a request its schema does not accept, naming the field, before the handler sees it', async () => {
    const wrong = await callBytesRpc(nc, def, { n: 'twenty-one' } as unknown as { n: number });
    expect(wrong.status).toBe(400);
    expect(decode(wrong.body)).toMatchObject({ status: 400, code: 'ValidationFailed', fields: [{ field: 'n', message: expect.stringContaining('number') }] });
    const notJson = await nc.request(def.subject, new TextEncoder().encode('{n:'), { timeout: 5000 });
    expect(decode(notJson.data)).toMatchObject({ status: 400, code: 'BadRequest' });
  });

  it('is a 503 KilnError when no service answers the subject', async () => {
    const nobody = defineBytesRpc(`${subject}.nobody.v1`, z.object({})).returns<object>();
    const err = await callBytesRpc(nc, nobody, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).status).toBe(503);
  });
});
