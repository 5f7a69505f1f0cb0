import { FNV_OFFSET, fnv1a32Continue } from './tag-rule';

/** Workflow ids operators can read: `build-<ruleId>-<eventId>` for pushes, the build id for manual builds. */
export const pushWorkflowId = (ruleId: string, eventId: string): string => `build-${ruleId}-${eventId}`;

const SALTED = [0, 1, 2, 3].map((i) => fnv1a32Continue(FNV_OFFSET, `${i}:`));

/**
 * A deterministic UUID-shaped id from a key, so that a redelivered event maps to the same build record.
 * (Four FNV-1a rounds over salted keys; collisions are irrelevant at these volumes and the key stays unique.)
 */
export function deterministicId(key: string): string {
  // Round i hashes `${i}:${key}`: the two-byte salt, then the key (the same value as hashing the joined string).
  return uuidOf(fnv1a32Continue(SALTED[0], key), fnv1a32Continue(SALTED[1], key), fnv1a32Continue(SALTED[2], key), fnv1a32Continue(SALTED[3], key));
}

const HEX = '0123456789abcdef';
const uuidCodes: number[] = new Array(36);

/**
 * The four words as hex in UUID layout, with version 5 and the RFC 4122 variant written over their nibbles:
 * `w0-w1[0..4]-5w1[5..8]-v w2[1..4]-w2[4..8]w3` (one string built from char codes, not from slices of slices).
 */
function uuidOf(w0: number, w1: number, w2: number, w3: number): string {
  let o = 0;
  const put = (w: number, from: number, to: number) => {
    for (let i = from; i < to; i++) uuidCodes[o++] = HEX.charCodeAt((w >>> (28 - 4 * i)) & 15);
  };
  const dash = () => (uuidCodes[o++] = 45);
  put(w0, 0, 8);
  dash();
  put(w1, 0, 4);
  dash();
  uuidCodes[o++] = 53; // '5'
  put(w1, 5, 8);
  dash();
  uuidCodes[o++] = HEX.charCodeAt(((w2 >>> 28) & 0x3) | 0x8);
  put(w2, 1, 4);
  dash();
  put(w2, 4, 8);
  put(w3, 0, 8);
  return String.fromCharCode.apply(null, uuidCodes);
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
