import type { Provider } from '@kiln/domain';
import { HostPolicy } from '@kiln/platform';

/** One page of what a host lists, with Kiln's own opaque cursor for the next page. */
export interface HostPage<T> {
  items: T[];
  nextPage: number | null;
}
export interface HostRepository {
  fullName: string;
  cloneUrl: string;
  defaultBranch: string | null;
  private: boolean;
}
export interface HostRef {
  name: string;
  commit: string;
}

/** The host refused the call: 401/403 mean Kiln's credentials, anything else is the host's problem. */
export class HostApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
  get unauthorized(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export interface HostApi {
  listRepositories(page: number, perPage: number): Promise<HostPage<HostRepository>>;
  listBranches(repo: string, page: number, perPage: number): Promise<HostPage<HostRef>>;
  listTags(repo: string, page: number, perPage: number): Promise<HostPage<HostRef>>;
  /** Registers Kiln's webhook (push and tag events) on the repository; returns the host's hook id. */
  createHook(repo: string, url: string, secret: string): Promise<string>;
  deleteHook(repo: string, hookId: string): Promise<void>;
}

export interface HostApiTarget {
  provider: Exclude<Provider, 'git' | 'coding'>;
  apiUrl: string;
  token: string;
  hosts: HostPolicy;
}

/** Where a source's REST API lives unless the source names it (`apiUrl`): the hosts' documented bases. */
export function defaultApiUrl(provider: Provider, baseUrl: string | null): string | null {
  switch (provider) {
    case 'github':
      return baseUrl && !/^https:\/\/github\.com$/i.test(baseUrl) ? `${baseUrl}/api/v3` : 'https://api.github.com';
    case 'gitlab':
      return `${baseUrl ?? 'https://gitlab.com'}/api/v4`;
    case 'gitee':
      return `${baseUrl ?? 'https://gitee.com'}/api/v5`;
    default:
      return null;
  }
}

const TIMEOUT_MS = 15_000;

async function call(t: HostApiTarget, method: string, path: string, body?: unknown): Promise<{ json: unknown; headers: Headers }> {
  const url = `${t.apiUrl.replace(/\/+$/, '')}${path}`;
  await t.hosts.check(url, { schemes: ['https', 'http'] });
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'kiln' };
  if (t.provider === 'github') {
    headers.Authorization = `Bearer ${t.token}`;
    headers.Accept = 'application/vnd.github+json';
    headers['X-GitHub-Api-Version'] = '2022-11-28';
  } else if (t.provider === 'gitlab') headers.Authorization = `Bearer ${t.token}`;
  let sendUrl = url;
  if (t.provider === 'gitee') sendUrl += `${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(t.token)}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(sendUrl, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
  } catch (err) {
    throw new HostApiError(503, `${t.provider} API at ${t.apiUrl} did not answer: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let reason = text.slice(0, 300);
    try {
      const j = JSON.parse(text) as { message?: string; error?: string; error_description?: string };
      reason = j.message ?? j.error_description ?? j.error ?? reason;
    } catch {
      // not JSON: keep the text
    }
    throw new HostApiError(res.status, `${t.provider} answered ${res.status} to ${method} ${path.split('?')[0]}: ${reason}`);
  }
  return { json: text ? JSON.parse(text) : null, headers: res.headers };
}

/** GitHub's Link header: `<…&page=3>; rel="next"`. */
function githubNext(headers: Headers): number | null {
  const link = headers.get('link') ?? '';
  const m = /<([^>]+)>;\s*rel="next"/.exec(link);
  if (!m) return null;
  const page = new URL(m[1]).searchParams.get('page');
  return page ? Number(page) : null;
}

/** Gitee: `total_page`; GitLab: `x-next-page` (empty on the last page). */
function headerNext(headers: Headers, page: number): number | null {
  const next = headers.get('x-next-page');
  if (next !== null) return next === '' ? null : Number(next);
  const total = Number(headers.get('total_page') ?? headers.get('x-total-pages') ?? '0');
  return total > page ? page + 1 : null;
}

const q = (page: number, perPage: number) => `page=${page}&per_page=${perPage}`;

export function hostApi(t: HostApiTarget): HostApi {
  switch (t.provider) {
    case 'github':
      return {
        async listRepositories(page, perPage) {
          const { json, headers } = await call(t, 'GET', `/user/repos?${q(page, perPage)}&sort=full_name`);
          const rows = json as Array<{ full_name: string; clone_url: string; default_branch: string; private: boolean }>;
          return { items: rows.map((r) => ({ fullName: r.full_name, cloneUrl: r.clone_url, defaultBranch: r.default_branch ?? null, private: r.private })), nextPage: githubNext(headers) };
        },
        async listBranches(repo, page, perPage) {
          const { json, headers } = await call(t, 'GET', `/repos/${repo}/branches?${q(page, perPage)}`);
          return { items: (json as Array<{ name: string; commit: { sha: string } }>).map((b) => ({ name: b.name, commit: b.commit.sha })), nextPage: githubNext(headers) };
        },
        async listTags(repo, page, perPage) {
          const { json, headers } = await call(t, 'GET', `/repos/${repo}/tags?${q(page, perPage)}`);
          return { items: (json as Array<{ name: string; commit: { sha: string } }>).map((b) => ({ name: b.name, commit: b.commit.sha })), nextPage: githubNext(headers) };
        },
        async createHook(repo, url, secret) {
          const { json } = await call(t, 'POST', `/repos/${repo}/hooks`, { name: 'web', active: true, events: ['push'], config: { url, content_type: 'json', secret, insecure_ssl: '0' } });
          return String((json as { id: number }).id);
        },
        async deleteHook(repo, hookId) {
          await call(t, 'DELETE', `/repos/${repo}/hooks/${encodeURIComponent(hookId)}`);
        },
      };
    case 'gitlab': {
      const project = (repo: string) => `/projects/${encodeURIComponent(repo)}`;
      return {
        async listRepositories(page, perPage) {
          const { json, headers } = await call(t, 'GET', `/projects?membership=true&simple=true&order_by=path&sort=asc&${q(page, perPage)}`);
          const rows = json as Array<{ path_with_namespace: string; http_url_to_repo: string; default_branch: string | null; visibility?: string }>;
          return {
            items: rows.map((r) => ({ fullName: r.path_with_namespace, cloneUrl: r.http_url_to_repo, defaultBranch: r.default_branch ?? null, private: r.visibility !== 'public' })),
            nextPage: headerNext(headers, page),
          };
        },
        async listBranches(repo, page, perPage) {
          const { json, headers } = await call(t, 'GET', `${project(repo)}/repository/branches?${q(page, perPage)}`);
          return { items: (json as Array<{ name: string; commit: { id: string } }>).map((b) => ({ name: b.name, commit: b.commit.id })), nextPage: headerNext(headers, page) };
        },
        async listTags(repo, page, perPage) {
          const { json, headers } = await call(t, 'GET', `${project(repo)}/repository/tags?${q(page, perPage)}`);
          return { items: (json as Array<{ name: string; commit: { id: string } }>).map((b) => ({ name: b.name, commit: b.commit.id })), nextPage: headerNext(headers, page) };
        },
        async createHook(repo, url, secret) {
          const { json } = await call(t, 'POST', `${project(repo)}/hooks`, { url, token: secret, push_events: true, tag_push_events: true, enable_ssl_verification: true });
          return String((json as { id: number }).id);
        },
        async deleteHook(repo, hookId) {
          await call(t, 'DELETE', `${project(repo)}/hooks/${encodeURIComponent(hookId)}`);
        },
      };
    }
    case 'gitee':
      return {
        async listRepositories(page, perPage) {
          const { json, headers } = await call(t, 'GET', `/user/repos?sort=full_name&direction=asc&${q(page, perPage)}`);
          const rows = json as Array<{ full_name: string; html_url: string; default_branch: string | null; private: boolean }>;
          return {
            items: rows.map((r) => ({ fullName: r.full_name, cloneUrl: r.html_url.endsWith('.git') ? r.html_url : `${r.html_url}.git`, defaultBranch: r.default_branch ?? null, private: r.private })),
            nextPage: headerNext(headers, page),
          };
        },
        async listBranches(repo, page, perPage) {
          const { json, headers } = await call(t, 'GET', `/repos/${repo}/branches?${q(page, perPage)}`);
          return { items: (json as Array<{ name: string; commit: { sha: string } }>).map((b) => ({ name: b.name, commit: b.commit.sha })), nextPage: headerNext(headers, page) };
        },
        async listTags(repo, page, perPage) {
          const { json, headers } = await call(t, 'GET', `/repos/${repo}/tags?${q(page, perPage)}`);
          return { items: (json as Array<{ name: string; commit: { sha: string } }>).map((b) => ({ name: b.name, commit: b.commit.sha })), nextPage: headerNext(headers, page) };
        },
        async createHook(repo, url, secret) {
          const { json } = await call(t, 'POST', `/repos/${repo}/hooks`, { url, encryption_type: 0, password: secret, push_events: true, tag_push_events: true });
          return String((json as { id: number }).id);
        },
        async deleteHook(repo, hookId) {
          await call(t, 'DELETE', `/repos/${repo}/hooks/${encodeURIComponent(hookId)}`);
        },
      };
  }
}
