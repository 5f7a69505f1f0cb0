/** Docker Distribution's path-component grammar: lowercase alphanumerics separated by `.`, `_`, `__` or dashes. */
export const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const MAX_REPOSITORY_LENGTH = 255;

export function repositoryNameProblem(namespace: string, name: string): string | null {
  for (const [label, value] of [
    ['namespace', namespace],
    ['repository', name],
  ] as const) {
    if (!PATH_COMPONENT_RE.test(value)) return `${label} "${value}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`;
  }
  if (namespace.length + 1 + name.length > MAX_REPOSITORY_LENGTH) return `the repository name is longer than ${MAX_REPOSITORY_LENGTH} characters`;
  return null;
}
