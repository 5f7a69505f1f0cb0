import { createHash, createHmac } from 'node:crypto';
import { readGithubShapedPush } from './github';
import { safeEqual } from './constant-time';
import type { Delivery, Outcome, ProviderAdapter } from './types';

/** Gitee signs `<timestamp>\n<secret>`, not the body: a timestamp window and a replay check bound its use. */
export const GITEE_WINDOW_MS = 60 * 60 * 1000;

const EVENTS = new Set(['Push Hook', 'Tag Push Hook']);

/** Base64(HMAC-SHA256(secret, "<timestamp>\n<secret>")), as Gitee's documentation computes it. */
export function giteeSignature(secret: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

/**
 * X-Gitee-Token is either the password itself or, in signing-key mode, the signature, sent plain or URL-encoded.
 * Gitee sends no delivery id; the id is derived from the timestamp and the exact body, so a redelivery of the same
 * request is recognised, while the same token and timestamp with another body is a replay.
 */
export function createGiteeAdapter(now: () => number = Date.now): ProviderAdapter {
  return {
    read(delivery: Delivery, secret: string): Outcome {
      const token = delivery.headers['x-gitee-token'];
      const timestamp = delivery.headers['x-gitee-timestamp'] ?? '';
      if (!token) return { kind: 'refused', status: 401, reason: 'missing X-Gitee-Token' };
      const candidates = [token];
      try {
        candidates.push(decodeURIComponent(token));
      } catch {
        /* not URL-encoded */
      }
      const password = candidates.some((t) => safeEqual(t, secret));
      let signed = false;
      if (!password) {
        if (!/^\d{10,16}$/.test(timestamp)) return { kind: 'refused', status: 401, reason: 'missing or malformed X-Gitee-Timestamp for a signed token' };
        const expected = giteeSignature(secret, timestamp);
        signed = candidates.some((t) => safeEqual(t, expected));
        if (!signed) return { kind: 'refused', status: 401, reason: 'wrong X-Gitee-Token' };
      }
      if (timestamp) {
        const skew = Math.abs(now() - Number(timestamp));
        if (!Number.isFinite(skew) || skew > GITEE_WINDOW_MS) return { kind: 'refused', status: 401, reason: 'X-Gitee-Timestamp is outside the one-hour window' };
      } else if (signed) {
        return { kind: 'refused', status: 401, reason: 'missing X-Gitee-Timestamp' };
      }
      const deliveryId = createHash('sha256').update(timestamp).update('\n').update(delivery.rawBody).digest('hex').slice(0, 40);
      const replayKey = timestamp ? createHash('sha256').update(`${token}\n${timestamp}`).digest('hex') : undefined;
      if (delivery.headers['x-gitee-ping'] === 'true') return { kind: 'ping', deliveryId, replayKey };
      const event = delivery.headers['x-gitee-event'];
      if (!event) return { kind: 'refused', status: 400, reason: 'missing X-Gitee-Event' };
      if (!EVENTS.has(event)) return { kind: 'ignored', deliveryId, reason: `event type ${event} is not used by Kiln`, replayKey };
      const out = readGithubShapedPush('gitee', delivery, deliveryId);
      return out.kind === 'event' ? { ...out, replayKey } : out;
    },
  };
}
