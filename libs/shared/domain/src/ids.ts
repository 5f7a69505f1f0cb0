import { fnv1a32 } from './tag-rule';

/** Workflow ids operators can read: `build-<ruleId>-<eventId>` for pushes, the build id for manual builds. */
export const pushWorkflowId = (ruleId: string, eventId: string): string => `build-${ruleId}-${eventId}`;
export const manualWorkflowId = (buildId: string): string => `build-${buildId}`;

/**
 * A deterministic UUID-shaped id from a key, so that a redelivered event maps to the same build record.
 * (Four FNV-1a rounds over salted keys; collisions are irrelevant at these volumes and the key stays unique.)
 */
export function deterministicId(key: string): string {
  const hex = [0, 1, 2, 3].map((i) => fnv1a32(`${i}:${key}`)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
