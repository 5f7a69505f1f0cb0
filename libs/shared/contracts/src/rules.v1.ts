import type { Trigger, TagRule, NormalizedTagRule } from '@kiln/domain';
import { z } from 'zod';
import { body, byId, defineRpc, noArgs, pageQuery } from './define';
import type { Page } from './define';

// Build rules (rules-service)
export interface BuildRuleInput {
  name?: string;
  sourceId: string;
  repository: string;
  trigger: Trigger;
  dockerfilePath?: string;
  contextDir?: string;
  tagRule?: TagRule;
  autoTrigger?: boolean;
  /** Seconds a build may take from the end of its clone to its pushed image (default 3600); then it fails as `Timeout`. */
  timeoutSeconds?: number;
  /**
   * `--build-arg`s. A secret one's value is stored sealed, never shown again and replaced by *** in logs; sending
   * a secret without a value on update keeps the stored one. (Build args end up in the image's history: prefer
   * build secrets for long-lived credentials.)
   */
  buildArgs?: BuildArgInput[];
  /** A newer push to the same branch cancels this rule's older build of it that has not started pushing. */
  cancelSuperseded?: boolean;
  /** Check out submodules (top level, shallow; their URLs are checked like the source's). */
  submodules?: boolean;
  /** On create: register Kiln's webhook on the repository through the host's API (removed with the last rule). */
  registerWebhook?: boolean;
  /** Keep only the last N builds and/or builds younger than D days (null: the global policy). */
  retention?: RetentionPolicy | null;
  /** Build only up to this stage of a multi-stage Dockerfile (`docker build --target`); null: the last stage. */
  target?: string | null;
  /** Platforms to build (`linux/amd64`, `linux/arm64`, ...): several make one image index; empty: the worker's own. */
  platforms?: string[];
  /** Push to this registry (an id from `/api/v1/registries`) instead of Kiln's own; null: Kiln's registry. */
  pushRegistryId?: string | null;
  /** Registries whose credentials the build may use to pull private base images (ids from `/api/v1/registries`). */
  pullRegistryIds?: string[];
}

export interface BuildArgInput {
  name: string;
  value?: string;
  secret?: boolean;
}
/** A secret argument is shown without its value. */
export interface BuildArgView {
  name: string;
  value?: string;
  secret: boolean;
}
export interface RetentionPolicy {
  keepLast?: number;
  maxAgeDays?: number;
}

export interface BuildRuleView {
  id: string;
  name: string;
  namespace: string;
  imageRepository: string;
  sourceId: string;
  repository: string;
  trigger: Trigger;
  dockerfilePath: string;
  contextDir: string;
  tagRule: NormalizedTagRule;
  autoTrigger: boolean;
  timeoutSeconds: number;
  buildArgs: BuildArgView[];
  cancelSuperseded: boolean;
  submodules: boolean;
  retention: RetentionPolicy | null;
  target: string | null;
  platforms: string[];
  pushRegistryId: string | null;
  pullRegistryIds: string[];
  /** The state of the rule's source: `unauthorized` until its credentials are renewed. */
  source: { status: 'ok' | 'unauthorized'; statusReason: string | null; statusAt: string | null };
  createdAt: string;
  updatedAt: string;
}

export const rulesCreate = defineRpc('rules.rules.create.v1', z.object({ namespace: z.string(), imageRepository: z.string(), rule: body<BuildRuleInput>() })).returns<BuildRuleView>();
export const rulesList = defineRpc('rules.rules.list.v1', z.object({ namespace: z.string().optional(), imageRepository: z.string().optional(), ...pageQuery })).returns<Page<BuildRuleView>>();
export const rulesGet = defineRpc('rules.rules.get.v1', byId).returns<BuildRuleView>();
export const rulesUpdate = defineRpc('rules.rules.update.v1', byId.extend({ patch: body<Partial<BuildRuleInput>>() })).returns<BuildRuleView>();
export const rulesDelete = defineRpc('rules.rules.delete.v1', byId).returns<{ deleted: true }>();
/** Secret build-argument values of a rule, for the worker running its build (never for the API). */
export const rulesBuildSecrets = defineRpc('rules.rules.build-secrets.v1', z.object({ ruleId: z.string(), names: z.array(z.string()) })).returns<Record<string, string>>();
/** Every rule's own retention policy, for log-service's retention job. */
export const rulesRetention = defineRpc('rules.rules.retention.v1', noArgs).returns<Array<{ ruleId: string; retention: RetentionPolicy }>>();
export const rulesSetAutoTrigger = defineRpc('rules.rules.auto-trigger.v1', byId.extend({ enabled: z.boolean({ invalid_type_error: 'must be true or false' }) })).returns<BuildRuleView>();

export const previewRequestSchema = byId.extend({ ref: z.string(), commit: z.string() });
export type PreviewRequest = z.infer<typeof previewRequestSchema>;
export interface PreviewResult {
  wouldFire: boolean;
  /** Why not, when it would not. */
  reason: string | null;
  /** The exact tag it would produce now. */
  tag: string;
  image: string;
}
export const rulesPreview = defineRpc('rules.rules.preview.v1', previewRequestSchema).returns<PreviewResult>();

/** Build now: exactly one of branch, tag or commit (a commit may name the branch it belongs to). */
export const startBuildRequestSchema = z.object({
  ruleId: z.string(),
  branch: z.string().nullish(),
  tag: z.string().nullish(),
  commit: z.string().nullish(),
  /** Who asked (the API token's name). */
  by: z.string(),
});
export type StartBuildRequest = z.infer<typeof startBuildRequestSchema>;
export interface StartedBuild {
  buildId: string;
  workflowId: string;
  ref: string;
  commit: string;
}
export const buildsStart = defineRpc('rules.builds.start.v1', startBuildRequestSchema).returns<StartedBuild>();
/** Run a finished build again: a new build (own id, record and tags) with its inputs, linked to it. */
export const rebuildRequestSchema = z.object({
  /** The build repeated; its rule, ref and commit (read from its record by the caller). */
  of: z.string().uuid({ message: 'must be an id' }),
  ruleId: z.string().uuid({ message: 'must be an id' }),
  ref: z.string().min(1, 'must be the ref the build was of'),
  commit: z.string().regex(/^[0-9a-f]{40}$/i, 'must be a full 40-character commit id'),
  by: z.string(),
});
export type RebuildRequest = z.infer<typeof rebuildRequestSchema>;
export const buildsRebuild = defineRpc('rules.builds.rebuild.v1', rebuildRequestSchema).returns<StartedBuild & { rebuildOf: string }>();
/** Cancel a build's workflow: the running step is aborted, the workspace cleaned, the build `cancelled`. */
export const buildsCancel = defineRpc('rules.builds.cancel.v1', z.object({ workflowId: z.string() })).returns<{ cancelRequested: true }>();
