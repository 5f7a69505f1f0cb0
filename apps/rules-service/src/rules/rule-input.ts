import { posix } from 'node:path';
import { z } from 'zod';
import { compileRefPattern, isSafeRefName, KilnError, normalizeTagRule, Provider, repositoryNameProblem, Trigger, ValidationError } from '@kiln/domain';
import type { BuildRuleInput } from '@kiln/contracts';
import { gitUrlProblem, parseInput } from '@kiln/platform';

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

const triggerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('branch'), branch: z.string().min(1).refine(isSafeRefName, 'is not a valid branch name') }).strict(),
  z.object({ type: z.literal('tag') }).strict(),
  z.object({ type: z.literal('anyBranch') }).strict(),
  z.object({ type: z.literal('refRegex'), pattern: z.string().min(1).max(1024) }).strict(),
]);

const ruleSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    sourceId: z.string().uuid('must be a source id'),
    repository: z.string().trim().min(1).max(1024),
    trigger: triggerSchema,
    dockerfilePath: relativePath('dockerfilePath').default('Dockerfile'),
    contextDir: relativePath('contextDir').default('.'),
    tagRule: z.unknown().optional(),
    autoTrigger: z.boolean().default(true),
    timeoutSeconds: z.number().int().min(10).max(86_400).default(3600),
    buildArgs: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a build-arg name (letters, digits, _; not starting with a digit)'),
            value: z.string().max(65_536).optional(),
            secret: z.boolean().default(false),
          })
          .strict()
          .refine((a) => a.secret || a.value !== undefined, { message: 'a plain build argument needs a value', path: ['value'] })
          .refine((a) => !a.secret || a.value === undefined || a.value.length >= 4, { message: 'a secret must be at least 4 characters (shorter ones cannot be redacted safely)', path: ['value'] }),
      )
      .max(100)
      .default([])
      .refine((args) => new Set(args.map((a) => a.name)).size === args.length, 'names must be unique'),
    cancelSuperseded: z.boolean().default(false),
    registerWebhook: z.boolean().default(false),
    submodules: z.boolean().default(false),
    retention: z
      .object({ keepLast: z.number().int().min(1).max(100_000).optional(), maxAgeDays: z.number().int().min(1).max(3650).optional() })
      .strict()
      .refine((r) => r.keepLast !== undefined || r.maxAgeDays !== undefined, 'give keepLast, maxAgeDays or both (or null for the global policy)')
      .nullable()
      .default(null),
    target: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a stage name of the Dockerfile (FROM … AS name)')
      .nullable()
      .default(null),
    platforms: z
      .array(z.enum(PLATFORMS, { errorMap: () => ({ message: `must be one of ${PLATFORMS.join(', ')}` }) }))
      .max(PLATFORMS.length)
      .default([])
      .refine((p) => new Set(p).size === p.length, 'platforms must be unique'),
    pushRegistryId: z.string().uuid('must be a registry id').nullable().default(null),
    pullRegistryIds: z
      .array(z.string().uuid('must be a registry id'))
      .max(20)
      .default([])
      .refine((ids) => new Set(ids).size === ids.length, 'ids must be unique'),
  })
  .strict();

export type ValidRule = Omit<z.infer<typeof ruleSchema>, 'tagRule' | 'trigger'> & {
  trigger: Trigger;
  tagRule: ReturnType<typeof normalizeTagRule>;
};

export function validateImageRepository(namespace: string, imageRepository: string): void {
  const problem = repositoryNameProblem(namespace, imageRepository);
  if (problem) throw new ValidationError([{ field: 'repository', message: problem }]);
}

/** Validate a whole rule; every problem is reported with its field, and nothing is written on failure. */
export function validateRule(input: BuildRuleInput, provider: Provider | null): ValidRule {
  const rule = parseInput(ruleSchema, input);
  const problems: Array<{ field: string; message: string }> = [];
  let tagRule: ValidRule['tagRule'] | undefined;
  try {
    tagRule = normalizeTagRule(rule.tagRule as never);
  } catch (err) {
    if (err instanceof ValidationError && err.fields) problems.push(...err.fields);
    else throw err;
  }
  if (rule.trigger.type === 'refRegex') {
    try {
      compileRefPattern(rule.trigger.pattern);
    } catch (err) {
      if (err instanceof KilnError && err.fields) problems.push(...err.fields);
      else throw err;
    }
  }
  if (provider !== null) {
    const repoProblem = repositoryProblem(provider, rule.repository);
    if (repoProblem) problems.push({ field: 'repository', message: repoProblem });
  }
  if (problems.length > 0 || !tagRule) throw new ValidationError(problems);
  return { ...rule, trigger: rule.trigger as Trigger, tagRule };
}

function repositoryProblem(provider: Provider, repository: string): string | null {
  if (provider === 'git') {
    const problem = gitUrlProblem(repository);
    return problem ? `refused: ${problem} (a git source takes a git URL: https, http, ssh or git)` : null;
  }
  return /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/.test(repository.replace(/\.git$/, '')) && !repository.split('/').some((p) => p.startsWith('-') || p === '..')
    ? null
    : 'must be owner/name on the host (GitLab subgroups allowed: group/sub/name)';
}

/** How deliveries are matched to rules: case-insensitive owner/name, no `.git`. */
export const repositoryKey = (repository: string): string =>
  repository
    .trim()
    .replace(/\.git$/, '')
    .replace(/\/+$/, '')
    .toLowerCase();

export function describeTrigger(trigger: Trigger): string {
  switch (trigger.type) {
    case 'branch':
      return `push to ${trigger.branch}`;
    case 'tag':
      return 'new tag';
    case 'anyBranch':
      return 'push to any branch';
    case 'refRegex':
      return `ref matches ${trigger.pattern}`;
  }
}
