import type { NormalizedTagRule, Provider } from '@kiln/domain';
import type { BuildDescriptor, BuildFailure, StepName } from './builds.v1';

export const BUILD_TASK_QUEUE = 'kiln-builds';
export const BUILD_WORKFLOW = 'buildAndPush';
/** Clones are polled from here only by workers with a free build slot (builds waiting there are `queued`). */
export const cloneTaskQueue = (taskQueue: string): string => `${taskQueue}-clone`;
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
  /** The registry speaks plain HTTP (a rule's own target registry may; Kiln's is in the worker's settings). */
  registryInsecure?: boolean;
  /** Registries (ids) whose credentials the worker fetches for this build: the target's and the private bases'. */
  registryIds?: string[];
  /** Build, tag and push must be done this many seconds after the clone, or the build fails as `Timeout`. */
  timeoutSeconds: number;
  /** Plain build arguments; secret ones are named here and fetched by the worker (never in workflow history). */
  buildArgs: Record<string, string>;
  secretBuildArgs: string[];
  /** Check out the repository's submodules too. */
  submodules?: boolean;
  /** The Dockerfile stage to build (`--target`). */
  target?: string | null;
  /** Platforms to build; several make one image index. Empty or absent: the worker's own. */
  platforms?: string[];
  /** Import and export BuildKit's layer cache here (`registry/repository:tag`), shared by every worker. */
  cacheRef?: string;
}

/** Signal: a newer push to the same branch started `byBuildId`; the build cancels itself unless it is pushing. */
export const SUPERSEDE_SIGNAL = 'supersede';
export interface SupersedeRequest {
  byBuildId: string;
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
