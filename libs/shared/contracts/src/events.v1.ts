import { z } from 'zod';
import { byId, defineRpc, instant, pageOf, pageQuery } from './define';
import { pushReceivedV1Schema } from './push-received.v1';
import { pageParams } from './http';

// Event ledger (rules-service)
export const EVENT_DECISIONS = ['build-started', 'no-match', 'auto-trigger-off', 'ref-deleted', 'no-rules', 'source-unauthorized'] as const;
export const EVENT_OUTCOMES = ['accepted', 'ping', 'ignored', 'refused'] as const;

export const eventDecisionViewSchema = z.object({
  ruleId: z.string().nullable(),
  decision: z.enum(EVENT_DECISIONS),
  reason: z.string().nullable(),
  buildId: z.string().nullable(),
  workflowId: z.string().nullable(),
});
export type EventDecisionView = z.infer<typeof eventDecisionViewSchema>;

export const eventViewSchema = z.object({
  id: z.string(),
  sourceId: z.string().nullable(),
  provider: z.string().nullable(),
  deliveryId: z.string().nullable(),
  outcome: z.enum(EVENT_OUTCOMES),
  status: z.number().int().describe('The HTTP status webhook-ingest answered the host with'),
  reason: z.string().nullable(),
  eventType: z.string().nullable(),
  repository: z.string().nullable(),
  ref: z.string().nullable(),
  receivedAt: instant,
  event: pushReceivedV1Schema.nullable().describe('The normalized event, for accepted pushes'),
  decisions: z.array(eventDecisionViewSchema).optional().describe("Each rule's decision (with one event only)"),
});
export type EventView = z.infer<typeof eventViewSchema>;

export const eventsQuerySchema = z.object({
  sourceId: z.string().optional(),
  repository: z.string().optional(),
  outcome: z.string().optional(),
  since: z.string().optional(),
  until: z.string().optional(),
  ...pageQuery,
});
export type EventsQuery = z.infer<typeof eventsQuerySchema>;

export const eventsList = defineRpc('rules.events.list.v1', eventsQuerySchema).returns(pageOf(eventViewSchema));
export const eventsGet = defineRpc('rules.events.get.v1', byId).returns(eventViewSchema);
export const eventsRedeliver = defineRpc('rules.events.redeliver.v1', byId).returns(eventViewSchema);

/** Query parameters of `GET /api/v1/events`. */
export const eventsListParamsSchema = z.object({
  sourceId: z.string().optional(),
  repository: z.string().optional().describe('owner/name on the host'),
  outcome: z.enum(EVENT_OUTCOMES).optional(),
  since: z.string().optional().describe('ISO-8601 instant'),
  until: z.string().optional(),
  ...pageParams,
});
