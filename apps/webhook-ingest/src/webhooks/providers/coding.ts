import { createHmac, timingSafeEqual } from 'node:crypto';
import { readGithubShapedPush } from './github';
import type { Delivery, Outcome, ProviderAdapter } from './types';

/** `sha1=` + hex HMAC-SHA1 of the raw body, compared in constant time. */
export function verifyCodingSignature(rawBody: Buffer, secret: string, header: string | undefined): boolean {
  if (!header || !header.startsWith('sha1=')) return false;
  const given = Buffer.from(header.slice('sha1='.length), 'hex');
  const expected = createHmac('sha1', secret).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** CODING: X-Coding-Event (push, ping), X-Coding-Delivery, X-Coding-Signature; JSON or form `payload`. */
export const codingAdapter: ProviderAdapter = {
  read(delivery: Delivery, secret: string): Outcome {
    if (!verifyCodingSignature(delivery.rawBody, secret, delivery.headers['x-coding-signature'])) return { kind: 'refused', status: 401, reason: 'missing or wrong X-Coding-Signature' };
    const event = delivery.headers['x-coding-event'];
    const deliveryId = delivery.headers['x-coding-delivery'];
    if (!event || !deliveryId) return { kind: 'refused', status: 400, reason: 'missing X-Coding-Event or X-Coding-Delivery' };
    if (event === 'ping') return { kind: 'ping', deliveryId };
    if (event !== 'push') return { kind: 'ignored', deliveryId, reason: `event type ${event} is not used by Kiln` };
    return readGithubShapedPush('coding', delivery, deliveryId);
  },
};
