import { z } from 'zod';
import { byId, defineRpc, pageQuery } from './define';
import type { Page } from './define';
import type { PushReceivedV1 } from './push-received.v1';

// Event ledger (rules-service)
export interface EventDecisionView {
  ruleId: string | null;
  decision: 'build-started' | 'no-match' | 'auto-trigger-off' | 'ref-deleted' | 'no-rules' | 'source-unauthorized';
  reason: string | null;
  buildId: string | null;
  workflowId: string | null;
}

export interface EventView {
  id: string;
  sourceId: string | null;
  provider: string | null;
  deliveryId: string | null;
  outcome: 'accepted' | 'ping' | 'ignored' | 'refused';
  status: number;
  reason: string | null;
  eventType: string | null;
  repository: string | null;
  ref: string | null;
  receivedAt: string;
  /** The normalized event, for accepted pushes. */
  event: PushReceivedV1 | null;
  decisions?: EventDecisionView[];
}

export const eventsQuerySchema = z.object({
  sourceId: z.string().optional(),
  repository: z.string().optional(),
  outcome: z.string().optional(),
  since: z.string().optional(),
  until: z.string().optional(),
  ...pageQuery,
});
export type EventsQuery = z.infer<typeof eventsQuerySchema>;

export const eventsList = defineRpc('rules.events.list.v1', eventsQuerySchema).returns<Page<EventView>>();
export const eventsGet = defineRpc('rules.events.get.v1', byId).returns<EventView>();
export const eventsRedeliver = defineRpc('rules.events.redeliver.v1', byId).returns<EventView>();
