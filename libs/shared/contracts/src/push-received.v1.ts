import type { Provider, RefType } from '@kiln/domain';
import { defineEvent } from './define';

export interface HeadCommit {
  id: string;
  message: string;
  authorName: string | null;
  authorEmail: string | null;
  /** ISO-8601 instant. */
  timestamp: string | null;
}

/** One push (or ping) from any host, normalized. */
export interface PushReceivedV1 {
  eventId: string;
  provider: Provider;
  sourceId: string;
  deliveryId: string;
  kind: 'push' | 'ping';
  ref: string;
  refType: Exclude<RefType, 'other'> | null;
  name: string;
  before: string | null;
  after: string | null;
  /** The commit to build; differs from `after` for annotated tags; null for deletions. */
  commitSha: string | null;
  created: boolean;
  deleted: boolean;
  repoFullName: string;
  cloneUrl: string | null;
  sshUrl: string | null;
  defaultBranch: string | null;
  headCommit: HeadCommit | null;
  pusher: string | null;
  receivedAt: string;
}

export const pushReceivedV1 = defineEvent<PushReceivedV1>('push.received.v1', 'KILN_EVENTS');

/** A delivery that started no evaluation (ping, ignored event type, refused): recorded in the event ledger. */
export interface DeliveryRecordedV1 {
  recordId: string;
  provider: Provider | null;
  sourceId: string | null;
  deliveryId: string | null;
  outcome: 'ping' | 'ignored' | 'refused';
  /** The HTTP status webhook-ingest answered. */
  status: number;
  reason: string | null;
  eventType: string | null;
  receivedAt: string;
}

export const deliveryRecordedV1 = defineEvent<DeliveryRecordedV1>('delivery.recorded.v1', 'KILN_EVENTS');
