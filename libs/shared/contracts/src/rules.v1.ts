import { posix } from 'node:path';
import { isSafeRefName, TAG_PARTS } from '@kiln/domain';
import { z } from 'zod';
import { body, byId, defineRpc, deletedSchema, instant, noArgs, pageOf, pageQuery } from './define';
import { pageParams } from './http';

// Build rules (rules-service). The input schema is the one rules-service validates with; the API documents it.

const relativePath = (what: string) =>
  z
    .string()
    .min(1)
    .max(1024)
    .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(p), `${what} must be relative to the repository, not absolute`)
    .refine((p) => !p.includes('\0'), `${what} must not contain NUL`)
    .transform((p) => posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '') || '.')
    .refine((p) => p !== '..' && !p.startsWith('../'), `${what} must stay inside the repository`);

/** Platforms BuildKit builds for (natively or under QEMU emulation). */
export const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6', 'linux/386', 'linux/ppc64le', 'linux/s390x', 'linux/riscv64'] as const;

/** Which pushes build: one branch, new tags, any branch, or a regular expression (RE2) on the full ref. */
export const triggerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('branch'), branch: z.string().min(1).refine(isSafeRefName, 'is not a valid branch name') }).strict(),
  z.object({ type: z.literal('tag') }).strict(),
  z.object({ type: z.literal('anyBranch') }).strict(),
  z.object({ type: z.literal('refRegex'), pattern: z.string().min(1).max(1024).describe('RE2 syntax, matched against the full ref (`^refs/heads/master$`)') }).strict(),
]);

const tagPart = z.enum(TAG_PARTS as ['ref', 'time', 'commit'], { errorMap: () => ({ message: `must be one of ${TAG_PARTS.join(', ')}` }) });
/** How an image is tagged: a custom prefix, then the chosen parts in order, joined by `-` (checked whole by `normalizeTagRule`). */
export const tagRuleInputSchema = z
  .object({
    prefix: z.string().optional().describe('Placed first: letters, digits, _ . - (not starting with . or -)'),
    parts: z.array(tagPart).optional().describe('Ordered parts after the prefix (default ref, time, commit)'),
    timeFormat: z.string().optional().describe('Tokens YYYY MM DD HH mm ss and tag-safe text (default YYYYMMDDHHmmss)'),
    timeZone: z.string().optional().describe('IANA time zone of the time part (default UTC)'),
    commitLength: z.number().optional().describe('Characters of the commit id, 4 to 40 (default 7)'),
  })
  .strict();
export const tagRuleSchema = z.object({ prefix: z.string(), parts: z.array(tagPart), timeFormat: z.string(), timeZone: z.string(), commitLength: z.number().int() });

export const retentionPolicySchema = z
  .object({ keepLast: z.number().int().min(1).max(100_000).optional(), maxAgeDays: z.number().int().min(1).max(3650).optional() })
  .strict()
  .refine((r) => r.keepLast !== undefined || r.maxAgeDays !== undefined, 'give keepLast, maxAgeDays or both (or null for the global policy)')
  .describe('Keep only the last N builds and/or builds younger than D days (null: the global policy)');
export type RetentionPolicy = z.infer<typeof retentionPolicySchema>;

const buildArgInputSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a build-arg name (letters, digits, _; not starting with a digit)'),
    value: z.string().max(65_536).optional(),
    secret: z.boolean().default(false),
  })
  .strict()
  .refine((a) => a.secret || a.value !== undefined, { message: 'a plain build argument needs a value', path: ['value'] })
  .refine((a) => !a.secret || a.value === undefined || a.value.length >= 4, { message: 'a secret must be at least 4 characters (shorter ones cannot be redacted safely)', path: ['value'] });
export type BuildArgInput = z.input<typeof buildArgInputSchema>;

/** A build rule as created (and, every field optional, as patched). */
export const buildRuleFields = {
  name: z.string().trim().min(1).max(200).optional(),
  sourceId: z.string().uuid('must be a source id'),
  /** `owner/name` on the host (GitLab subgroups allowed), or a git URL for a `git` source. */
  repository: z.string().trim().min(1).max(1024).describe('owner/name on the host (GitLab subgroups allowed), or the git URL of a git source'),
  trigger: triggerSchema,
  dockerfilePath: relativePath('dockerfilePath').default('Dockerfile'),
  contextDir: relativePath('contextDir').default('.'),
  tagRule: tagRuleInputSchema.optional(),
  autoTrigger: z.boolean().default(true),
  /** Seconds a build may take from the end of its clone to its pushed image; then it fails as `Timeout`. */
  timeoutSeconds: z.number().int().min(10).max(86_400).default(3600).describe('Seconds from the end of the clone to the pushed image; then the build fails as Timeout'),
  buildArgs: z
    .array(buildArgInputSchema)
    .max(100)
    .default([])
    .refine((args) => new Set(args.map((a) => a.name)).size === args.length, 'names must be unique')
    .describe('`--build-arg`s. A secret one is stored sealed, never shown again and redacted from logs; sent without a value on update, the stored one is kept'),
  cancelSuperseded: z.boolean().default(false).describe("A newer push to the same branch cancels this rule's older build of it that has not started pushing"),
  registerWebhook: z.boolean().default(false).describe("On create: register Kiln's webhook on the repository through the host's API"),
  submodules: z.boolean().default(false).describe('Check out submodules (top level, shallow)'),
  retention: retentionPolicySchema.nullable().default(null),
  target: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a stage name of the Dockerfile (FROM … AS name)')
    .nullable()
    .default(null)
    .describe('Build only up to this stage (docker build --target); null: the last stage'),
  platforms: z
    .array(z.enum(PLATFORMS, { errorMap: () => ({ message: `must be one of ${PLATFORMS.join(', ')}` }) }))
    .max(PLATFORMS.length)
    .default([])
    .refine((p) => new Set(p).size === p.length, 'platforms must be unique')
    .describe("Several make one image index; empty: the worker's own"),
  pushRegistryId: z.string().uuid('must be a registry id').nullable().default(null).describe("Push to this registry (from /api/v1/registries); null: Kiln's own"),
  pullRegistryIds: z
    .array(z.string().uuid('must be a registry id'))
    .max(20)
    .default([])
    .refine((ids) => new Set(ids).size === ids.length, 'ids must be unique')
    .describe('Registries whose credentials the build may use to pull private base images'),
};
export const buildRuleInputSchema = z.object(buildRuleFields).strict();
export type BuildRuleInput = z.input<typeof buildRuleInputSchema>;
/** A patch: any fields of the rule; the rule it makes is checked whole. */
export const buildRulePatchSchema = buildRuleInputSchema.partial();

/** A secret argument is shown without its value. */
export const buildArgViewSchema = z.object({ name: z.string(), value: z.string().optional(), secret: z.boolean() });
export type BuildArgView = z.infer<typeof buildArgViewSchema>;

export const sourceStateSchema = z.object({ status: z.enum(['ok', 'unauthorized']), statusReason: z.string().nullable(), statusAt: instant.nullable() });

export const buildRuleViewSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  namespace: z.string(),
  imageRepository: z.string(),
  sourceId: z.string().uuid(),
  repository: z.string(),
  trigger: triggerSchema,
  dockerfilePath: z.string(),
  contextDir: z.string(),
  tagRule: tagRuleSchema,
  autoTrigger: z.boolean(),
  timeoutSeconds: z.number().int(),
  buildArgs: z.array(buildArgViewSchema),
  cancelSuperseded: z.boolean(),
  submodules: z.boolean(),
  retention: z.object({ keepLast: z.number().int().optional(), maxAgeDays: z.number().int().optional() }).nullable(),
  target: z.string().nullable(),
  platforms: z.array(z.string()),
  pushRegistryId: z.string().uuid().nullable(),
  pullRegistryIds: z.array(z.string().uuid()),
  /** The state of the rule's source: `unauthorized` until its credentials are renewed. */
  source: sourceStateSchema,
  createdAt: instant,
  updatedAt: instant,
});
export type BuildRuleView = z.infer<typeof buildRuleViewSchema>;

export const rulesCreate = defineRpc('rules.rules.create.v1', z.object({ namespace: z.string(), imageRepository: z.string(), rule: body<BuildRuleInput>() })).returns(buildRuleViewSchema);
export const rulesList = defineRpc('rules.rules.list.v1', z.object({ namespace: z.string().optional(), imageRepository: z.string().optional(), ...pageQuery })).returns(pageOf(buildRuleViewSchema));
export const rulesGet = defineRpc('rules.rules.get.v1', byId).returns(buildRuleViewSchema);
export const rulesUpdate = defineRpc('rules.rules.update.v1', byId.extend({ patch: body<Partial<BuildRuleInput>>() })).returns(buildRuleViewSchema);
export const rulesDelete = defineRpc('rules.rules.delete.v1', byId).returns(deletedSchema);
/** Secret build-argument values of a rule, for the worker running its build (never for the API). */
export const rulesBuildSecrets = defineRpc('rules.rules.build-secrets.v1', z.object({ ruleId: z.string(), names: z.array(z.string()) })).returns(z.record(z.string()));
/** Every rule's own retention policy, for log-service's retention job. */
export const rulesRetention = defineRpc('rules.rules.retention.v1', noArgs).returns(
  z.array(z.object({ ruleId: z.string(), retention: z.object({ keepLast: z.number().optional(), maxAgeDays: z.number().optional() }) })),
);
export const rulesSetAutoTrigger = defineRpc('rules.rules.auto-trigger.v1', byId.extend({ enabled: z.boolean({ invalid_type_error: 'must be true or false' }) })).returns(buildRuleViewSchema);

export const previewRequestSchema = byId.extend({ ref: z.string(), commit: z.string() });
export type PreviewRequest = z.infer<typeof previewRequestSchema>;
export const previewResultSchema = z.object({
  wouldFire: z.boolean(),
  reason: z.string().nullable().describe('Why not, when it would not'),
  tag: z.string().describe('The exact tag it would produce now'),
  image: z.string(),
});
export type PreviewResult = z.infer<typeof previewResultSchema>;
export const rulesPreview = defineRpc('rules.rules.preview.v1', previewRequestSchema).returns(previewResultSchema);
/** The same for a rule not saved yet (the console's live preview while a rule is written): checked whole, written nowhere. */
export const rulesPreviewDraft = defineRpc(
  'rules.rules.preview-draft.v1',
  z.object({ namespace: z.string(), imageRepository: z.string(), rule: body<BuildRuleInput>(), ref: z.string(), commit: z.string() }),
).returns(previewResultSchema);

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
export const startedBuildSchema = z.object({ buildId: z.string().uuid(), workflowId: z.string(), ref: z.string(), commit: z.string() });
export type StartedBuild = z.infer<typeof startedBuildSchema>;
export const buildsStart = defineRpc('rules.builds.start.v1', startBuildRequestSchema).returns(startedBuildSchema);
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
export const buildsRebuild = defineRpc('rules.builds.rebuild.v1', rebuildRequestSchema).returns(startedBuildSchema.extend({ rebuildOf: z.string().uuid() }));
/** Cancel a build's workflow: the running step is aborted, the workspace cleaned, the build `cancelled`. */
export const buildsCancel = defineRpc('rules.builds.cancel.v1', z.object({ workflowId: z.string() })).returns(z.object({ cancelRequested: z.literal(true) }));

// Request bodies of the REST API that the gateway passes on (the service checks them with the RPC's schema).
export const autoTriggerBodySchema = z.object({ enabled: z.boolean() });
export const previewBodySchema = z.object({ ref: z.string().describe('A full ref (refs/heads/main, refs/tags/v1) or a branch name'), commit: z.string() });
export const previewDraftBodySchema = z.object({ rule: buildRuleInputSchema, ref: previewBodySchema.shape.ref, commit: z.string() });
export const buildNowBodySchema = z
  .object({ branch: z.string(), tag: z.string(), commit: z.string().describe('A commit id; with `branch`, the branch it belongs to') })
  .partial()
  .describe('Exactly one of branch, tag or commit (a commit may name its branch)');
/** Query parameters of a rule list. */
export const rulesListParamsSchema = z.object(pageParams);
/** Query parameters of the list of every rule (by image repository); a namespace, unless the token has all of them. */
export const allRulesParamsSchema = z.object({ namespace: z.string().optional().describe("Only this namespace's rules (required for a token scoped to namespaces)"), ...pageParams });
