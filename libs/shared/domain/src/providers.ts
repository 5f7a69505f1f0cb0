export const PROVIDERS = ['github', 'gitlab', 'gitee', 'coding', 'git'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const DEFAULT_BASE_URLS: Record<Exclude<Provider, 'git'>, string> = {
  github: 'https://github.com',
  gitlab: 'https://gitlab.com',
  gitee: 'https://gitee.com',
  coding: 'https://e.coding.net',
};

/** Clone URL for a repository on a host: `<baseUrl>/<owner>/<name>.git`; for `git` sources the repository is the URL. */
export function cloneUrlFor(provider: Provider, baseUrl: string | null, repository: string): string {
  if (provider === 'git') return repository;
  const base = (baseUrl ?? DEFAULT_BASE_URLS[provider]).replace(/\/+$/, '');
  return `${base}/${repository.replace(/\.git$/, '')}.git`;
}

export const BUILD_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];
export const TERMINAL_STATUSES: readonly BuildStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminal = (s: BuildStatus): boolean => TERMINAL_STATUSES.includes(s);
