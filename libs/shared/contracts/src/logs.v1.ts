import { BUILD_STATUSES } from '@kiln/domain';
import { z } from 'zod';
import { byId, defineBytesRpc, defineRpc, deletedSchema, instant, noArgs, pageOf, pageQuery } from './define';
import type { Page } from './define';
import { pageParams, queryBool, queryInt } from './http';
import { buildDescriptorSchema, buildFailureSchema, buildInstructionSchema, buildStatusV1Schema, buildTriggerSchema, LOG_STREAMS, platformImageSchema, STEP_NAMES, STEP_STATUSES } from './builds.v1';

// Builds and logs (log-service)
export const buildStepViewSchema = z.object({
  name: z.enum(STEP_NAMES),
  status: z.enum(STEP_STATUSES),
  attempt: z.number().int(),
  startedAt: instant.nullable(),
  finishedAt: instant.nullable(),
  durationMs: z.number().int().nullable(),
  message: z.string().nullable(),
});
export type BuildStepView = z.infer<typeof buildStepViewSchema>;

export const buildViewSchema = z.object({
  id: z.string().uuid(),
  ruleId: z.string().uuid(),
  ruleName: z.string(),
  ruleDeleted: z.boolean(),
  imageRepository: z.string(),
  sourceId: z.string().uuid(),
  trigger: buildTriggerSchema,
  status: z.enum(BUILD_STATUSES),
  ref: z.string(),
  commit: z.string(),
  tags: z.array(z.string()),
  digest: z.string().nullable().describe('The pushed manifest, or the image index when there are several platforms or attestations'),
  images: z.array(platformImageSchema).describe("Each platform's image in the index"),
  workflowId: z.string(),
  failure: buildFailureSchema.nullable(),
  instructions: z.array(buildInstructionSchema).describe("Each Dockerfile instruction of the build step as BuildKit ran it, in its log's #N order"),
  rebuildOf: z.string().uuid().nullable().describe('The build this one repeats (a rebuild)'),
  rebuilds: z.array(z.string().uuid()).optional().describe('The builds that repeat this one, oldest first (with one build only)'),
  steps: z.array(buildStepViewSchema).optional().describe('With one build only'),
  createdAt: instant,
  startedAt: instant.nullable(),
  finishedAt: instant.nullable(),
});
export type BuildView = z.infer<typeof buildViewSchema>;

export const buildsQuerySchema = z.object({
  ruleId: z.string().optional(),
  imageRepository: z.string().optional(),
  /** Image repositories under these namespaces only (token scope); absent = all. */
  namespaces: z.array(z.string()).optional(),
  status: z.enum(BUILD_STATUSES).optional(),
  ref: z.string().optional(),
  triggerKind: z.enum(['push', 'manual', 'rebuild']).optional(),
  /** Rebuilds of this build. */
  rebuildOf: z.string().optional(),
  /** ISO-8601 instants bounding createdAt. */
  since: z.string().optional(),
  until: z.string().optional(),
  ...pageQuery,
});
export type BuildsQuery = z.infer<typeof buildsQuerySchema>;

export const logLineViewSchema = z.object({
  id: z.string().describe('The cursor of the next page after this line'),
  seq: z.number().int(),
  step: z.enum(STEP_NAMES),
  attempt: z.number().int(),
  stream: z.enum(LOG_STREAMS),
  time: instant,
  text: z.string(),
});
export type LogLineView = z.infer<typeof logLineViewSchema>;

export const logsQuerySchema = z.object({
  buildId: z.string(),
  /** Lines after this line id. */
  cursor: z.string().optional(),
  limit: z.number().int().optional(),
  /** The last N lines (ignores cursor). */
  tail: z.number().int().optional(),
  step: z.enum(STEP_NAMES).optional(),
  stream: z.enum(LOG_STREAMS).optional(),
  attempt: z.number().int().optional(),
  /** Case-insensitive text the line contains. */
  contains: z.string().optional(),
  /** The caller's namespaces (`*` = all): a build outside them is refused (403) without another round trip. */
  namespaces: z.array(z.string()).optional(),
});
export type LogsQuery = z.infer<typeof logsQuerySchema>;

/** Lines matching a text across the builds of a rule or an image repository, in a time range (newest first). */
export const logSearchQuerySchema = z.object({
  /** At least 2 characters (log-service says so by name when not). */
  contains: z.string().optional(),
  ruleId: z.string().optional(),
  imageRepository: z.string().optional(),
  /** Only these namespaces (the caller's token); `*` = all. */
  namespaces: z.array(z.string()).optional(),
  /** ISO-8601 instants bounding the line's time; default the last 7 days. */
  since: z.string().optional(),
  until: z.string().optional(),
  ...pageQuery,
});
export type LogSearchQuery = z.infer<typeof logSearchQuerySchema>;
export const logSearchHitSchema = logLineViewSchema.extend({ buildId: z.string().uuid(), ruleId: z.string().uuid(), imageRepository: z.string(), ref: z.string(), commit: z.string() });
export type LogSearchHit = z.infer<typeof logSearchHitSchema>;
export const logsSearch = defineRpc('logs.lines.search.v1', logSearchQuerySchema).returns(pageOf(logSearchHitSchema));

export const retentionRunSchema = z.object({ buildsDeleted: z.number().int(), linesDeleted: z.number().int() });
export type RetentionRun = z.infer<typeof retentionRunSchema>;
/** Run the retention job now (operators; it also runs on its own schedule). */
export const logsRetentionRun = defineRpc('logs.retention.run.v1', noArgs).returns(retentionRunSchema);

export const buildsList = defineRpc('logs.builds.list.v1', buildsQuerySchema).returns(pageOf(buildViewSchema));
export const buildsGet = defineRpc('logs.builds.get.v1', byId).returns(buildViewSchema);
export const logsList = defineRpc('logs.lines.list.v1', logsQuerySchema).returns(pageOf(logLineViewSchema));
/** The same page as `logsList`, answered as the JSON bytes the gateway sends on (the log reader's hot path). */
export const logsPage = defineBytesRpc('logs.lines.page.v1', logsQuerySchema).returns<Page<LogLineView>>();
export const buildsDelete = defineRpc('logs.builds.delete.v1', byId).returns(deletedSchema);
/**
 * Record a build started by request as queued, now: the same report as its `build.status.v1` event (which stays the
 * durable way in), written before rules-service answers, so that the caller can read the build at once.
 */
export const buildsRecordQueued = defineRpc(
  'logs.builds.record-queued.v1',
  buildStatusV1Schema.pick({ buildId: true, at: true }).extend({ status: z.literal('queued'), descriptor: buildDescriptorSchema }),
).returns(z.object({ recorded: z.literal(true) }));

// Query parameters of the REST API's reads, parsed by the gateway into the requests above.
export const buildsListParamsSchema = z.object({
  ruleId: z.string().optional(),
  repository: z.string().optional().describe('Image repository namespace/name'),
  imageRepository: z.string().optional().describe('The same as repository'),
  status: z.enum(BUILD_STATUSES).optional(),
  ref: z.string().optional().describe('The full ref (refs/heads/main)'),
  triggerKind: z.enum(['push', 'manual', 'rebuild']).optional(),
  rebuildOf: z.string().optional().describe('Rebuilds of this build'),
  since: z.string().optional().describe('ISO-8601 instant: created at or after'),
  until: z.string().optional().describe('ISO-8601 instant: created before'),
  ...pageParams,
});
export const logFilterParams = {
  step: z.enum(STEP_NAMES).optional(),
  stream: z.enum(LOG_STREAMS).optional(),
  attempt: queryInt.describe("A step's attempt (from 1)"),
  contains: z.string().optional().describe('Case-insensitive text the line contains'),
};
export const buildLogParamsSchema = z.object({
  ...logFilterParams,
  cursor: z.string().optional().describe('Lines after this line id'),
  limit: queryInt,
  tail: queryInt.describe('The last N lines (ignores cursor)'),
  format: z.enum(['json', 'text']).optional().describe('text: the whole log as a plain-text download'),
  follow: queryBool.describe('true: server-sent events (line, then a final status) while the build runs; resumes after Last-Event-ID'),
});
export const logSearchParamsSchema = z.object({
  contains: z.string().optional().describe('At least 2 characters'),
  ruleId: z.string().optional(),
  repository: z.string().optional().describe('Image repository namespace/name'),
  imageRepository: z.string().optional().describe('The same as repository'),
  since: z.string().optional().describe('ISO-8601 instant; default 7 days ago'),
  until: z.string().optional(),
  ...pageParams,
});
