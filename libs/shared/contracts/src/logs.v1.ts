import { BUILD_STATUSES, type BuildStatus } from '@kiln/domain';
import { z } from 'zod';
import { byId, defineBytesRpc, defineRpc, noArgs, pageQuery } from './define';
import type { Page } from './define';
import { LOG_STREAMS, STEP_NAMES, type BuildFailure, type BuildInstruction, type BuildTriggerInfo, type LogStream, type PlatformImage, type StepName, type StepStatus } from './builds.v1';

// Builds and logs (log-service)
export interface BuildStepView {
  name: StepName;
  status: StepStatus;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  message: string | null;
}

export interface BuildView {
  id: string;
  ruleId: string;
  ruleName: string;
  ruleDeleted: boolean;
  imageRepository: string;
  sourceId: string;
  trigger: BuildTriggerInfo;
  status: BuildStatus;
  ref: string;
  commit: string;
  tags: string[];
  /** The pushed manifest, or the image index when there are several platforms or attestations. */
  digest: string | null;
  /** Each platform's image in the index. */
  images: PlatformImage[];
  workflowId: string;
  failure: BuildFailure | null;
  /** Each Dockerfile instruction of the build step as BuildKit ran it, in its log's `#N` order. */
  instructions: BuildInstruction[];
  /** The build this one repeats (a rebuild), and the builds that repeat this one (oldest first; with one build only). */
  rebuildOf: string | null;
  rebuilds?: string[];
  steps?: BuildStepView[];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

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

export interface LogLineView {
  id: string;
  seq: number;
  step: StepName;
  attempt: number;
  stream: LogStream;
  time: string;
  text: string;
}

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
export interface LogSearchHit extends LogLineView {
  buildId: string;
  ruleId: string;
  imageRepository: string;
  ref: string;
  commit: string;
}
export const logsSearch = defineRpc('logs.lines.search.v1', logSearchQuerySchema).returns<Page<LogSearchHit>>();

export interface RetentionRun {
  buildsDeleted: number;
  linesDeleted: number;
}
/** Run the retention job now (operators; it also runs on its own schedule). */
export const logsRetentionRun = defineRpc('logs.retention.run.v1', noArgs).returns<RetentionRun>();

export const buildsList = defineRpc('logs.builds.list.v1', buildsQuerySchema).returns<Page<BuildView>>();
export const buildsGet = defineRpc('logs.builds.get.v1', byId).returns<BuildView>();
export const logsList = defineRpc('logs.lines.list.v1', logsQuerySchema).returns<Page<LogLineView>>();
/** The same page as `logsList`, answered as the JSON bytes the gateway sends on (the log reader's hot path). */
export const logsPage = defineBytesRpc<LogsQuery, Page<LogLineView>>('logs.lines.page.v1');
export const buildsDelete = defineRpc('logs.builds.delete.v1', byId).returns<{ deleted: true }>();
