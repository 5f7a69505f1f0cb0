import { z } from 'zod';
import { PROVIDERS } from '@kiln/domain';
import { defineEvent, instant } from './define';

export const headCommitSchema = z.object({
  id: z.string().min(1),
  message: z.string(),
  authorName: z.string().nullable(),
  authorEmail: z.string().nullable(),
  /** ISO-8601 instant. */
  timestamp: z.string().nullable(),
});
export type HeadCommit = z.infer<typeof headCommitSchema>;

/** One push (or ping) from any host, normalized. */
export const pushReceivedV1Schema = z.object({
  eventId: z.string().min(1),
  provider: z.enum(PROVIDERS),
  sourceId: z.string().uuid(),
  deliveryId: z.string(),
  kind: z.enum(['push', 'ping']),
  ref: z.string(),
  refType: z.enum(['branch', 'tag']).nullable(),
  name: z.string(),
  before: z.string().nullable(),
  after: z.string().nullable(),
  /** The commit to build; differs from `after` for annotated tags; null for deletions. */
  commitSha: z.string().nullable(),
  created: z.boolean(),
  deleted: z.boolean(),
  repoFullName: z.string(),
  cloneUrl: z.string().nullable(),
  sshUrl: z.string().nullable(),
  defaultBranch: z.string().nullable(),
  headCommit: headCommitSchema.nullable(),
  pusher: z.string().nullable(),
  receivedAt: instant,
});
export type PushReceivedV1 = z.infer<typeof pushReceivedV1Schema>;
export const pushReceivedV1 = defineEvent('push.received.v1', 'KILN_EVENTS', pushReceivedV1Schema);

/** A delivery that started no evaluation (ping, ignored event type, refused): recorded in the event ledger. */
export const deliveryRecordedV1Schema = z.object({
  recordId: z.string().min(1),
  provider: z.enum(PROVIDERS).nullable(),
  sourceId: z.string().nullable(),
  deliveryId: z.string().nullable(),
  outcome: z.enum(['ping', 'ignored', 'refused']),
  /** The HTTP status webhook-ingest answered. */
  status: z.number().int(),
  reason: z.string().nullable(),
  eventType: z.string().nullable(),
  receivedAt: instant,
});
export type DeliveryRecordedV1 = z.infer<typeof deliveryRecordedV1Schema>;
export const deliveryRecordedV1 = defineEvent('delivery.recorded.v1', 'KILN_EVENTS', deliveryRecordedV1Schema);
