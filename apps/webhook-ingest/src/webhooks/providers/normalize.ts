import { parseRef } from '@kiln/domain';
import type { HeadCommit, PushReceivedV1 } from '@kiln/contracts';

/** The commit shape GitHub, GitLab, Gitee and CODING all send. */
export interface HostCommit {
  id?: string;
  message?: string;
  timestamp?: string;
  author?: { name?: string; email?: string };
}

export function isoInstant(value: string | undefined | null): string | null {
  if (!value) return null;
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** What a host's push says, before Kiln gives it an id, a source and a time. */
export type PushFields = Omit<PushReceivedV1, 'eventId' | 'sourceId' | 'receivedAt'>;

/** What each host's adapter reads from its own payload; the rest of a push's fields are the same for every host. */
export type HostPushFields = Omit<PushFields, 'provider' | 'deliveryId' | 'kind' | 'ref' | 'refType' | 'name'>;

/** A push read from a host's delivery, as the adapter's outcome: the host's fields and the ref's parts, written out once. */
export function pushOutcome(provider: PushFields['provider'], deliveryId: string, ref: string, f: HostPushFields): { kind: 'event'; deliveryId: string; event: PushFields } {
  const parsed = parseRef(ref);
  return {
    kind: 'event',
    deliveryId,
    event: {
      provider,
      deliveryId,
      kind: 'push',
      ref,
      refType: parsed.type === 'other' ? null : parsed.type,
      name: parsed.name,
      before: f.before,
      after: f.after,
      commitSha: f.commitSha,
      created: f.created,
      deleted: f.deleted,
      repoFullName: f.repoFullName,
      cloneUrl: f.cloneUrl,
      sshUrl: f.sshUrl,
      defaultBranch: f.defaultBranch,
      headCommit: f.headCommit,
      pusher: f.pusher,
    },
  };
}

/**
 * The stored event: the adapter's push with Kiln's own three fields added in place. The adapter's object is new for
 * each delivery and handed on to nothing else, so it is not copied (a spread copy of it, twenty properties, was a
 * tenth of webhook-ingest's JavaScript time).
 */
export function stampPush(f: PushFields, eventId: string, sourceId: string, receivedAt: string): PushReceivedV1 {
  const event = f as PushReceivedV1;
  event.eventId = eventId;
  event.sourceId = sourceId;
  event.receivedAt = receivedAt;
  return event;
}

let lastNowMs = -1;
let lastNowIso = '';

/** The current time as an ISO-8601 instant, formatted once per millisecond however many deliveries arrive in it. */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastNowMs) {
    lastNowMs = now;
    lastNowIso = new Date(now).toISOString();
  }
  return lastNowIso;
}

export function headCommit(c: HostCommit | null | undefined): HeadCommit | null {
  if (!c?.id) return null;
  return { id: c.id, message: c.message ?? '', authorName: c.author?.name ?? null, authorEmail: c.author?.email ?? null, timestamp: isoInstant(c.timestamp) };
}
