import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { Api } from '../support/api';
import { FakeHosts, FakeRepo } from '../support/fake-hosts';
import { Stack, startStack } from '../support/stack';

jest.setTimeout(300_000);

describe('code sources: host APIs (listing, webhook registration, OAuth) against replayed host responses', () => {
  const GATEWAY_PORT = 19780;
  let stack: Stack;
  let hosts: FakeHosts;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;
  const sha = (n: number) => n.toString(16).padStart(40, 'a');
  const repos: FakeRepo[] = Array.from({ length: 7 }, (_, i) => ({
    fullName: `acme/app-${i}`,
    private: i % 2 === 0,
    branches: Object.fromEntries(Array.from({ length: i === 0 ? 5 : 1 }, (_, b) => [b === 0 ? 'main' : `feature/${b}`, sha(b + 1)])),
    tags: i === 0 ? { 'v1.0.0': sha(10), 'v1.1.0': sha(11), 'v2.0.0': sha(12) } : ({} as Record<string, string>),
  }));
  const apps = { 'gh-client': 'gh-secret', 'gl-client': 'gl-secret', 'ge-client': 'ge-secret', 'cd-client': 'cd-secret' };

  beforeAll(async () => {
    // Access tokens that expire within Kiln's renewal window: every use after the first renews them.
    hosts = await FakeHosts.start({ tokens: ['good-token'], oauthApps: apps, repos, tokenTtlSeconds: 120 });
    // Sources are the gateway's and rules-service's: nothing here builds, takes webhooks or stores logs.
    stack = await startStack(GATEWAY_PORT, {
      apps: ['gateway', 'rules-service'],
      env: {
        KILN_PUBLIC_API_URL: `http://127.0.0.1:${GATEWAY_PORT}`,
        KILN_OAUTH_GITHUB_CLIENT_ID: 'gh-client',
        KILN_OAUTH_GITHUB_CLIENT_SECRET: 'gh-secret',
        KILN_OAUTH_GITHUB_URL: `${hosts.url}/github`,
        KILN_OAUTH_GITLAB_CLIENT_ID: 'gl-client',
        KILN_OAUTH_GITLAB_CLIENT_SECRET: 'gl-secret',
        KILN_OAUTH_GITLAB_URL: `${hosts.url}/gitlab`,
        KILN_OAUTH_GITEE_CLIENT_ID: 'ge-client',
        KILN_OAUTH_GITEE_CLIENT_SECRET: 'ge-secret',
        KILN_OAUTH_GITEE_URL: `${hosts.url}/gitee`,
        KILN_OAUTH_CODING_CLIENT_ID: 'cd-client',
        KILN_OAUTH_CODING_CLIENT_SECRET: 'cd-secret',
        KILN_OAUTH_CODING_URL: `${hosts.url}/coding`,
      },
    });
    api = new Api(stack.gatewayUrl, stack.adminToken);
  });

  afterAll(async () => {
    await stack?.stop();
    await hosts?.stop();
  });

  const source = (host: 'github' | 'gitlab' | 'gitee', token = 'good-token') =>
    api.ok<{ id: string; webhookUrl: string; webhookSecret: string }>('POST', '/api/v1/sources', { provider: host, name: `${host}-${run}-${Math.random()}`, apiUrl: hosts.apiUrl(host), token });

  async function all<T>(path: string, limit: number): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: T[]; nextCursor: string | null } = await api.ok('GET', `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      items.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    return { items, pages };
  }

  it.each(['github', 'gitlab', 'gitee'] as const)('lists %s repositories, branches and tags page by page', async (host) => {
    const s = await source(host);
    const r = await all<{ fullName: string; private: boolean; cloneUrl: string }>(`/api/v1/sources/${s.id}/repositories`, 3);
    expect(r.pages).toBe(3);
    expect(r.items.map((x) => x.fullName)).toEqual(repos.map((x) => x.fullName));
    expect(r.items[0]).toMatchObject({ private: true, cloneUrl: expect.stringMatching(/acme\/app-0\.git$/) });
    const b = await all<{ name: string; commit: string }>(`/api/v1/sources/${s.id}/repositories/${encodeURIComponent('acme/app-0')}/branches`, 2);
    expect(b.pages).toBe(3);
    expect(b.items).toEqual(
      Object.entries(repos[0].branches ?? {})
        .map(([name, commit]) => ({ name, commit }))
        .sort((x, y) => x.name.localeCompare(y.name)),
    );
    const t = await all<{ name: string; commit: string }>(`/api/v1/sources/${s.id}/repositories/${encodeURIComponent('acme/app-0')}/tags`, 100);
    expect(t.items.map((x) => x.name)).toEqual(['v1.0.0', 'v1.1.0', 'v2.0.0']);
    expect((await api.call('GET', `/api/v1/sources/${s.id}/repositories/${encodeURIComponent('acme/nope')}/branches`)).status).toBe(404);
    expect((await api.call('GET', `/api/v1/sources/${s.id}/repositories/${encodeURIComponent('../etc')}/branches`)).status).toBe(400);
  });

  it('marks a source unauthorized when the host refuses its token, and a new token clears it', async () => {
    const s = await source('github', 'revoked-token');
    const refused = await api.call('GET', `/api/v1/sources/${s.id}/repositories`);
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'SourceAuthFailed', message: expect.stringContaining('Bad credentials') });
    expect(await api.ok('GET', `/api/v1/sources/${s.id}`)).toMatchObject({ status: 'unauthorized', statusReason: expect.stringContaining('401') });
    await api.ok('PATCH', `/api/v1/sources/${s.id}`, { token: 'good-token' });
    expect((await api.ok<{ items: unknown[] }>('GET', `/api/v1/sources/${s.id}/repositories`)).items.length).toBeGreaterThan(0);
    expect(await api.ok('GET', `/api/v1/sources/${s.id}`)).toMatchObject({ status: 'ok' });
  });

  it.each(['github', 'gitlab', 'gitee'] as const)('registers one %s webhook per repository on rule creation, and removes it with the last rule', async (host) => {
    const s = await source(host);
    const repo = host === 'github' ? 'acme/app-1' : host === 'gitlab' ? 'acme/app-2' : 'acme/app-3';
    const mine = async () => (await hosts.hooks()).filter((h) => h.host === host && h.repo === repo);
    const rule = (branch: string) =>
      api.call('POST', `/api/v1/namespaces/hooks/repositories/${host}-${branch}/build-rules`, { sourceId: s.id, repository: repo, trigger: { type: 'branch', branch }, registerWebhook: true });
    const first = await rule('main');
    expect(first.status).toBe(201);
    const [hook] = await mine();
    if (host === 'github') expect(hook.body).toMatchObject({ name: 'web', active: true, events: ['push'], config: { url: s.webhookUrl, content_type: 'json', secret: s.webhookSecret } });
    if (host === 'gitlab') expect(hook.body).toMatchObject({ url: s.webhookUrl, token: s.webhookSecret, push_events: true, tag_push_events: true });
    if (host === 'gitee') expect(hook.body).toMatchObject({ url: s.webhookUrl, password: s.webhookSecret, push_events: true, tag_push_events: true });
    const second = await rule('develop');
    expect(second.status).toBe(201);
    expect(await mine()).toHaveLength(1);
    await api.ok('DELETE', `/api/v1/build-rules/${(first.body as { id: string }).id}`);
    expect(await mine()).toHaveLength(1);
    await api.ok('DELETE', `/api/v1/build-rules/${(second.body as { id: string }).id}`);
    expect(await mine()).toHaveLength(0);
    // A repository the host does not know: nothing is created.
    const missing = await api.call('POST', `/api/v1/namespaces/hooks/repositories/${host}-missing/build-rules`, {
      sourceId: s.id,
      repository: 'acme/missing',
      trigger: { type: 'branch', branch: 'main' },
      registerWebhook: true,
    });
    expect(missing.status).toBe(404);
    expect((await api.ok<{ items: unknown[] }>('GET', `/api/v1/namespaces/hooks/repositories/${host}-missing/build-rules`)).items).toEqual([]);
  });

  async function authorizeThroughHost(provider: string, body: Record<string, unknown>): Promise<Response> {
    const started = await api.ok<{ authorizeUrl: string; state: string }>('POST', `/api/v1/sources/oauth/${provider}`, body);
    const at = new URL(started.authorizeUrl);
    expect(at.searchParams.get('redirect_uri')).toBe(`http://127.0.0.1:${GATEWAY_PORT}/api/v1/oauth/callback`);
    expect(at.searchParams.get('state')).toBe(started.state);
    expect(at.searchParams.get('response_type')).toBe('code');
    // The browser goes to the host, the user approves, the host redirects back to Kiln with a code.
    const approved = await fetch(started.authorizeUrl, { redirect: 'manual' });
    expect(approved.status).toBe(302);
    const callback = approved.headers.get('location') ?? '';
    expect(callback.startsWith(`http://127.0.0.1:${GATEWAY_PORT}/api/v1/oauth/callback?`)).toBe(true);
    const res = await fetch(callback);
    // The same callback again: the state was single-use.
    const replay = await fetch(callback);
    expect(replay.status).toBe(400);
    return res;
  }

  it.each([
    ['github', 'gh-client'],
    ['gitlab', 'gl-client'],
    ['gitee', 'ge-client'],
  ] as const)('creates a %s source through the OAuth authorization-code flow; its token lists repositories', async (provider, clientId) => {
    const res = await authorizeThroughHost(provider, { name: `oauth-${provider}-${run}`, apiUrl: hosts.apiUrl(provider) });
    expect(res.status).toBe(200);
    const created = (await res.json()) as { id: string; provider: string; oauth: boolean; credentials: string };
    expect(created).toMatchObject({ provider, oauth: true, credentials: 'oauth' });
    expect(JSON.stringify(created)).not.toContain(clientId.replace('client', 'secret'));
    if (provider === 'github') {
      // CODING too: its authorize page and token endpoint (the grant in the query string, as CODING documents).
      const coding = await authorizeThroughHost('coding', { name: `oauth-coding-${run}` });
      expect(coding.status).toBe(200);
      expect(await coding.json()).toMatchObject({ provider: 'coding', oauth: true, credentials: 'oauth' });
      expect((await hosts.grants()).filter((g) => g.startsWith('coding:'))).toEqual(['coding:authorization_code']);
    }
    const listed = await api.ok<{ items: Array<{ fullName: string }> }>('GET', `/api/v1/sources/${created.id}/repositories?limit=100`);
    expect(listed.items).toHaveLength(repos.length);
    if (provider !== 'github') {
      // GitLab and Gitee tokens expire: Kiln renewed this one with its single-use refresh token, and again now.
      const before = (await hosts.grants()).filter((g) => g === `${provider}:refresh_token`).length;
      expect(before).toBeGreaterThanOrEqual(1);
      expect((await api.ok<{ items: unknown[] }>('GET', `/api/v1/sources/${created.id}/repositories?limit=1`)).items).toHaveLength(1);
      expect((await hosts.grants()).filter((g) => g === `${provider}:refresh_token`).length).toBe(before + 1);
      expect(await api.ok('GET', `/api/v1/sources/${created.id}`)).toMatchObject({ status: 'ok' });
    }
  });

  it('re-authorizes an unauthorized source through OAuth; refuses bad codes, unknown states and unconfigured hosts', async () => {
    const s = await source('github', 'revoked-token');
    expect((await api.call('GET', `/api/v1/sources/${s.id}/repositories`)).status).toBe(422);
    const res = await authorizeThroughHost('github', { sourceId: s.id });
    expect(res.status).toBe(200);
    expect(await api.ok('GET', `/api/v1/sources/${s.id}`)).toMatchObject({ id: s.id, status: 'ok', oauth: true });
    expect((await api.ok<{ items: unknown[] }>('GET', `/api/v1/sources/${s.id}/repositories`)).items.length).toBeGreaterThan(0);

    const started = await api.ok<{ state: string }>('POST', '/api/v1/sources/oauth/github', { name: `bad-code-${run}` });
    const bad = await fetch(`${stack.gatewayUrl}/api/v1/oauth/callback?code=wrong&state=${started.state}`);
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ code: 'OAuthExchangeFailed', message: expect.stringContaining('incorrect or expired') });
    expect((await fetch(`${stack.gatewayUrl}/api/v1/oauth/callback?code=x&state=never-issued`)).status).toBe(400);
    const denied = await api.ok<{ state: string }>('POST', '/api/v1/sources/oauth/gitlab', { name: `denied-${run}` });
    const deniedRes = await fetch(`${stack.gatewayUrl}/api/v1/oauth/callback?error=access_denied&error_description=The+user+denied&state=${denied.state}`);
    expect(deniedRes.status).toBe(422);
    expect((await api.call('POST', '/api/v1/sources/oauth/coding', { name: 'x', sourceId: s.id })).status).toBe(400); // a github source
    expect((await api.call('POST', '/api/v1/sources/oauth/git', { name: 'x' })).status).toBe(400);
  });

  it('keeps no token or OAuth secret in clear in any stored row or service log', async () => {
    const pg = new PgClient({ connectionString: stack.databaseAdminUrl });
    await pg.connect();
    const secrets = ['good-token', 'revoked-token', 'gh-secret', 'gl-secret', 'ge-secret', 'cd-secret', ...(await hosts.issuedTokens())];
    expect(secrets.length).toBeGreaterThan(8); // the OAuth tokens of the tests above are among them
    try {
      const tables = (
        await pg.query(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema IN ('rules','logs','gateway') AND table_type = 'BASE TABLE'`)
      ).rows.map((r: { t: string }) => r.t);
      for (const t of tables)
        for (const secret of secrets) {
          const hits = await pg.query(`SELECT count(*)::int AS n FROM ${t} x WHERE x::text LIKE $1`, [`%${secret}%`]);
          expect({ t, secret, n: hits.rows[0].n }).toEqual({ t, secret, n: 0 });
        }
    } finally {
      await pg.end();
    }
    for (const f of readdirSync(stack.logDir)) for (const secret of secrets) expect({ f, found: readFileSync(join(stack.logDir, f), 'utf8').includes(secret) }).toEqual({ f, found: false });
  });
});
