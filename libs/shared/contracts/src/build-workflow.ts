import type { NormalizedTagRule, Provider } from '@kiln/domain';
import type { BuildDescriptor, BuildFailure, StepName } from './builds.v1';

export const BUILD_TASK_QUEUE = 'kiln-builds';
export const BUILD_WORKFLOW = 'buildAndPush';
export const CURRENT_STEP_QUERY = 'currentStep';

/** Custom search attributes operators filter on (`temporal workflow list --query 'KilnRuleId="…"'`). */
export const SEARCH_ATTRIBUTES = {
  ruleId: 'KilnRuleId',
  imageRepository: 'KilnImageRepository',
  ref: 'KilnRef',
  commit: 'KilnCommit',
  triggerKind: 'KilnTriggerKind',
} as const;

/** One object input so fields can be added. Carries no credentials: activities fetch them when they need them. */
export interface BuildInput {
  descriptor: BuildDescriptor;
  source: { id: string; provider: Provider; cloneUrl: string };
  dockerfilePath: string;
  contextDir: string;
  tagRule: NormalizedTagRule;
  /** `host:port` of the registry the image is pushed to. */
  registry: string;
}

export interface BuildResult {
  tags: string[];
  digest: string;
}

export interface BuildProgress {
  step: StepName | 'queued' | 'done';
  attempt: number;
  startedAt: string | null;
  failure?: BuildFailure;
}
