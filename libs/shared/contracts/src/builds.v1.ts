import type { BuildStatus, Provider, RefType } from '@kiln/domain';
import { defineEvent } from './define';

export const STEP_NAMES = ['clone', 'build', 'tag', 'push', 'cleanup'] as const;
export type StepName = (typeof STEP_NAMES)[number];
export type StepStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface BuildFailure {
  /** Stable class: SourceAuthFailed, RefNotFound, DockerfileNotFound, BuildStepFailed, RegistryAuthFailed, ... */
  type: string;
  message: string;
  /** What the user can do about it. */
  hint: string;
}

export type BuildTriggerInfo =
  | { kind: 'push'; eventId: string; deliveryId: string; provider: Provider }
  | { kind: 'manual'; by: string }
  /** Run again, by request, with the inputs of an earlier build (the rule as it is now, the same ref and commit). */
  | { kind: 'rebuild'; rebuildOf: string; by: string };

/** What is known of a build when it is started; carried by the first status report. */
export interface BuildDescriptor {
  buildId: string;
  workflowId: string;
  ruleId: string;
  ruleName: string;
  sourceId: string;
  /** Image repository `namespace/name`. */
  imageRepository: string;
  trigger: BuildTriggerInfo;
  ref: string;
  refType: RefType;
  refName: string;
  commit: string;
}

/** A build or step transition. Consumers apply it idempotently: statuses only move forward. */
export interface BuildStatusV1 {
  buildId: string;
  /** ISO-8601 instant of the transition. */
  at: string;
  status?: BuildStatus;
  descriptor?: BuildDescriptor;
  step?: { name: StepName; status: StepStatus; attempt: number; message?: string };
  tags?: string[];
  digest?: string;
  /** Each platform's image in the pushed index (`linux/arm64` → its manifest digest). */
  images?: PlatformImage[];
  failure?: BuildFailure;
}

export interface PlatformImage {
  platform: string;
  digest: string;
}

export const buildStatusV1 = defineEvent<BuildStatusV1>('build.status.v1', 'KILN_BUILDS');

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface LogLine {
  /** Position within (build, step, attempt), from 0. */
  seq: number;
  time: string;
  stream: LogStream;
  text: string;
}

/** A chunk of log lines of one step attempt; `(buildId, step, attempt, seq)` makes redelivery harmless. */
export interface BuildLogV1 {
  buildId: string;
  step: StepName;
  attempt: number;
  lines: LogLine[];
}

export const buildLogV1 = defineEvent<BuildLogV1>('build.log.v1', 'KILN_LOGS');
export const buildLogSubject = (buildId: string): string => `${buildLogV1.subject}.${buildId}`;

/** A rule was deleted; its past builds stay readable, marked as from a deleted rule. */
export interface RuleDeletedV1 {
  ruleId: string;
  at: string;
}
export const ruleDeletedV1 = defineEvent<RuleDeletedV1>('rule.deleted.v1', 'KILN_BUILDS');

/** The host refused Kiln's credentials for a source (a clone or API call got 401/403). */
export interface SourceStatusV1 {
  sourceId: string;
  status: 'unauthorized';
  reason: string;
  at: string;
}
export const sourceStatusV1 = defineEvent<SourceStatusV1>('source.status.v1', 'KILN_BUILDS');
