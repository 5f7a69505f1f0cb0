import type { z } from 'zod';
import { compileRefPattern, KilnError, normalizeTagRule, Provider, repositoryNameProblem, Trigger, ValidationError } from '@kiln/domain';
import { buildRuleInputSchema } from '@kiln/contracts';
import { gitUrlProblem, parseInput } from '@kiln/platform';

export type ValidRule = Omit<z.infer<typeof buildRuleInputSchema>, 'tagRule' | 'trigger'> & {
  trigger: Trigger;
  tagRule: ReturnType<typeof normalizeTagRule>;
};

export function validateImageRepository(namespace: string, imageRepository: string): void {
  const problem = repositoryNameProblem(namespace, imageRepository);
  if (problem) throw new ValidationError([{ field: 'repository', message: problem }]);
}

/** Validate a whole rule; every problem is reported with its field, and nothing is written on failure. */
export function validateRule(input: unknown, provider: Provider | null): ValidRule {
  const rule = parseInput(buildRuleInputSchema, input);
  const problems: Array<{ field: string; message: string }> = [];
  let tagRule: ValidRule['tagRule'] | undefined;
  try {
    tagRule = normalizeTagRule(rule.tagRule);
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
