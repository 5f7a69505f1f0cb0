import { z } from 'zod';
import { BUILD_STATUSES, PROVIDERS } from '@kiln/domain';
import { defineEvent, instant } from './define';

export const STEP_NAMES = ['clone', 'build', 'tag', 'push', 'cleanup'] as const;
export type StepName = (typeof STEP_NAMES)[number];
export const STEP_STATUSES = ['running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

const uuid = z.string().uuid();

export const buildFailureSchema = z.object({
  /** Stable class: SourceAuthFailed, RefNotFound, DockerfileNotFound, BuildStepFailed, RegistryAuthFailed, ... */
  type: z.string().min(1),
  message: z.string(),
  /** What the user can do about it. */
  hint: z.string(),
});
export type BuildFailure = z.infer<typeof buildFailureSchema>;

export const buildTriggerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('push'), eventId: z.string().min(1), deliveryId: z.string(), provider: z.enum(PROVIDERS) }),
  z.object({ kind: z.literal('manual'), by: z.string() }),
  /** Run again, by request, with the inputs of an earlier build (the rule as it is now, the same ref and commit). */
  z.object({ kind: z.literal('rebuild'), rebuildOf: uuid, by: z.string() }),
]);
export type BuildTriggerInfo = z.infer<typeof buildTriggerSchema>;

/** What is known of a build when it is started; carried by the first status report. */
export const buildDescriptorSchema = z.object({
  buildId: uuid,
  workflowId: z.string().min(1),
  ruleId: uuid,
  ruleName: z.string(),
  sourceId: uuid,
  /** Image repository `namespace/name`. */
  imageRepository: z.string().min(1),
  trigger: buildTriggerSchema,
  ref: z.string().min(1),
  refType: z.enum(['branch', 'tag', 'other']),
  refName: z.string(),
  commit: z.string().min(1),
});
export type BuildDescriptor = z.infer<typeof buildDescriptorSchema>;

export const platformImageSchema = z.object({ platform: z.string().min(1), digest: z.string().min(1) });
export type PlatformImage = z.infer<typeof platformImageSchema>;

export const INSTRUCTION_STATUSES = ['pending', 'running', 'succeeded', 'cached', 'failed', 'cancelled'] as const;

/**
 * One Dockerfile instruction as BuildKit ran it (a vertex of its build graph, `[stage 2/4] RUN make`): its status,
 * CACHED included, and times. `vertex` is the `#N` its log lines carry.
 */
export const buildInstructionSchema = z.object({
  vertex: z.number().int().min(1),
  name: z.string(),
  status: z.enum(INSTRUCTION_STATUSES),
  startedAt: instant.nullable(),
  finishedAt: instant.nullable(),
  durationMs: z.number().int().nullable(),
});
export type BuildInstruction = z.infer<typeof buildInstructionSchema>;

/** A build or step transition. Consumers apply it idempotently: statuses only move forward. */
export const buildStatusV1Schema = z.object({
  buildId: uuid,
  /** ISO-8601 instant of the transition. */
  at: instant,
  status: z.enum(BUILD_STATUSES).optional(),
  descriptor: buildDescriptorSchema.optional(),
  step: z.object({ name: z.enum(STEP_NAMES), status: z.enum(STEP_STATUSES), attempt: z.number().int().min(1), message: z.string().optional() }).optional(),
  tags: z.array(z.string()).optional(),
  digest: z.string().optional(),
  /** Each platform's image in the pushed index (`linux/arm64` → its manifest digest). */
  images: z.array(platformImageSchema).optional(),
  failure: buildFailureSchema.optional(),
  /** The Dockerfile's instructions so far, whole (each report replaces the last). */
  instructions: z.array(buildInstructionSchema).optional(),
});
export type BuildStatusV1 = z.infer<typeof buildStatusV1Schema>;
export const buildStatusV1 = defineEvent('build.status.v1', 'KILN_BUILDS', buildStatusV1Schema);

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

export const logLineSchema = z.object({
  /** Position within (build, step, attempt), from 0. */
  seq: z.number().int().min(0),
  time: instant,
  stream: z.enum(LOG_STREAMS),
  text: z.string(),
});
export type LogLine = z.infer<typeof logLineSchema>;

/** A chunk of log lines of one step attempt; `(buildId, step, attempt, seq)` makes redelivery harmless. */
export const buildLogV1Schema = z.object({
  buildId: uuid,
  step: z.enum(STEP_NAMES),
  attempt: z.number().int().min(1),
  lines: z.array(logLineSchema),
});
export type BuildLogV1 = z.infer<typeof buildLogV1Schema>;
export const buildLogV1 = defineEvent('build.log.v1', 'KILN_LOGS', buildLogV1Schema);
export const buildLogSubject = (buildId: string): string => `${buildLogV1.subject}.${buildId}`;

/** A rule was deleted; its past builds stay readable, marked as from a deleted rule. */
export const ruleDeletedV1Schema = z.object({ ruleId: uuid, at: instant });
export type RuleDeletedV1 = z.infer<typeof ruleDeletedV1Schema>;
export const ruleDeletedV1 = defineEvent('rule.deleted.v1', 'KILN_BUILDS', ruleDeletedV1Schema);

/** The host refused Kiln's credentials for a source (a clone or API call got 401/403). */
export const sourceStatusV1Schema = z.object({ sourceId: uuid, status: z.literal('unauthorized'), reason: z.string(), at: instant });
export type SourceStatusV1 = z.infer<typeof sourceStatusV1Schema>;
export const sourceStatusV1 = defineEvent('source.status.v1', 'KILN_BUILDS', sourceStatusV1Schema);
