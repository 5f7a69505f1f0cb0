import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { Api } from './support/api';
import { onStack } from './support/on-stack';
import { expectEventually } from './support/expect-eventually';
import { FakeHosts, FakeRepo } from './support/fake-hosts';
import { authorizeSshKey, git as runGit, GitFixture, sshKeyPair } from './support/git-fixture';
import { sharedStack, Stack, startStack } from './support/stack';

jest.setTimeout(300_000);

describe('code sources: URLs Kiln refuses to contact', () => {
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  onStack(sharedStack, (t) => ({ git, api } = t));

  const refusedRepositories: Array<[string, string, RegExp]> = [
    ['file://', 'file:///etc/passwd', /scheme file: is not allowed/],
    ['ext:: transport', 'ext::sh -c touch% /tmp/pwned', /spaces|transport helpers/],
    ['ext:: without spaces', 'ext::sh', /transport helpers/],
    ['a leading -', '--upload-pack=touch /tmp/pwned', /must not start with "-"/],
    ['a path part starting with -', 'https://git.example.com/-oProxyCommand=x/repo.git', /path parts must not start with "-"/],
    ['the metadata address', 'http://169.254.169.254/latest/meta-data.git', /internal/],
    ['a metadata host name', 'http://metadata.google.internal/computeMetadata.git', /metadata service/],
    ['a private address', 'https://10.1.2.3/acme/app.git', /internal/],
    ['a private address over ssh', 'ssh://git@192.168.1.10/acme/app.git', /internal/],
    ['a private address, scp form', 'git@172.16.0.9:acme/app.git', /internal/],
    ['IPv6 loopback (not allow-listed)', 'http://[::1]:8080/acme/app.git', /internal/],
    ['an IPv4-mapped IPv6 private address', 'http://[::ffff:10.0.0.1]/acme/app.git', /internal/],
    ['link-local IPv6', 'http://[fe80::1]/acme/app.git', /internal/],
    ['0.0.0.0', 'http://0.0.0.0/acme/app.git', /internal/],
  ];

  it.each(refusedRepositories)('refuses a git rule repository that is %s, and saves nothing', async (_what, url, message) => {
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'git', name: `any-${run}-${Math.random()}` });
    const res = await api.call('POST', `/api/v1/namespaces/urls/repositories/refused/build-rules`, { sourceId: source.id, repository: url, trigger: { type: 'branch', branch: 'main' } });
    expect(res.status).toBe(400);
    const body = res.body as { fields: Array<{ field: string; message: string }> };
    expect(body.fields[0].field).toBe('repository');
    expect(body.fields[0].message).toMatch(message);
    const rules = await api.ok<{ items: unknown[] }>('GET', '/api/v1/namespaces/urls/repositories/refused/build-rules');
    expect(rules.items).toEqual([]);
  });

  it.each([
    ['file://', 'file:///srv/git'],
    ['the metadata address', 'http://169.254.169.254'],
    ['a private address', 'https://192.168.0.20'],
    ['an ssh URL (API base URLs are http or https)', 'ssh://git.example.com'],
  ])('refuses a source base URL that is %s', async (_what, baseUrl) => {
    const before = (await api.ok<{ items: unknown[] }>('GET', '/api/v1/sources')).items.length;
    const res = await api.call('POST', '/api/v1/sources', { provider: 'gitlab', name: `gl-${run}`, baseUrl, token: 't' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('baseUrl');
    expect((await api.ok<{ items: unknown[] }>('GET', '/api/v1/sources')).items.length).toBe(before);
  });

  it('accepts a loopback git server only because the operator allow-listed it, and builds from it', async () => {
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'git', name: `loop-${run}` });
    const repo = git.createRepo(`acme/allowed-${run}`);
    repo.commit({ Dockerfile: 'FROM kiln/busybox:local\nCOPY . /src\n' }, 'allowed');
    repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/urls/repositories/allowed/build-rules', {
      sourceId: source.id,
      repository: repo.url,
      trigger: { type: 'branch', branch: 'main' },
    });
    const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    await expectEventually(async () => expect((await api.ok<{ status: string }>('GET', `/api/v1/builds/${buildId}`)).status).toBe('succeeded'), 120_000, 250);
    // localhost is the same loopback address: allowed through the resolved address.
    const viaName = await api.call('PATCH', `/api/v1/build-rules/${rule.id}`, { repository: repo.url.replace('127.0.0.1', 'localhost') });
    expect(viaName.status).toBe(200);
  });

  it('checks out submodules when the rule asks, and refuses a submodule on an internal host', async () => {
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'git', name: `sub-${run}` });
    const lib = git.createRepo(`acme/lib-${run}`);
    lib.commit({ 'lib.txt': `library ${run}\n` }, 'lib');
    lib.push('refs/heads/main');
    const app = git.createRepo(`acme/withsub-${run}`);
    app.commit({ Dockerfile: 'FROM kiln/busybox:local\nCOPY lib/lib.txt /lib.txt\nRUN cat /lib.txt\n' }, 'app');
    runGit(['-C', app.work, '-c', 'protocol.file.allow=always', 'submodule', 'add', '--quiet', lib.url, 'lib']);
    runGit(['-C', app.work, 'commit', '--quiet', '-m', 'add lib']);
    app.push('refs/heads/main');
    const create = (name: string, submodules: boolean) =>
      api.ok<{ id: string }>('POST', `/api/v1/namespaces/urls/repositories/${name}/build-rules`, { sourceId: source.id, repository: app.url, trigger: { type: 'branch', branch: 'main' }, submodules });
    const build = async (ruleId: string) => {
      const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${ruleId}/builds`, { branch: 'main' });
      return expectEventually(
        async () => {
          const b = await api.ok<{ status: string; failure: { type: string; message: string } | null }>('GET', `/api/v1/builds/${buildId}`);
          expect(['succeeded', 'failed']).toContain(b.status);
          return b;
        },
        120_000,
        250,
      );
    };
    expect((await build((await create('with-sub', true)).id)).status).toBe('succeeded');
    const without = await build((await create('without-sub', false)).id);
    expect(without).toMatchObject({ status: 'failed', failure: { type: 'BuildStepFailed' } });

    // A submodule pointing at a private address is refused before git contacts it.
    const evil = git.createRepo(`acme/evilsub-${run}`);
    evil.commit({ Dockerfile: 'FROM kiln/busybox:local\n', '.gitmodules': '[submodule "x"]\n\tpath = x\n\turl = http://10.9.8.7/x.git\n' }, 'evil');
    runGit(['-C', evil.work, 'update-index', '--add', '--cacheinfo', `160000,${'1'.repeat(40)},x`]);
    runGit(['-C', evil.work, 'commit', '--quiet', '-m', 'gitlink']);
    evil.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/urls/repositories/evil-sub/build-rules', {
      sourceId: source.id,
      repository: evil.url,
      trigger: { type: 'branch', branch: 'main' },
      submodules: true,
    });
    const refused = await build(rule.id);
    expect(refused).toMatchObject({ status: 'failed', failure: { type: 'SourceUrlRefused', message: expect.stringContaining('10.9.8.7') } });
  });

  it('answers OAuth for a host without a configured app with what to configure', async () => {
    const res = await api.call('POST', '/api/v1/sources/oauth/coding', { name: 'x' });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'OAuthNotConfigured', message: expect.stringContaining('KILN_OAUTH_CODING_CLIENT_ID') });
  });

  it("lists a CODING repository's branches and tags with git itself, page by page", async () => {
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'coding', name: `coding-${run}`, baseUrl: git.baseUrl, token: 'tok' });
    const repo = git.createRepo(`acme/coding-${run}`);
    repo.commit({ 'a.txt': 'a' }, 'a');
    repo.push('refs/heads/main');
    for (const b of ['dev', 'release/1']) {
      repo.checkout(b, true);
      repo.push(`refs/heads/${b}`);
    }
    repo.tag('v1', 'annotated');
    repo.push('refs/tags/v1');
    const base = `/api/v1/sources/${source.id}/repositories/${encodeURIComponent(repo.fullName)}`;
    const first = await api.ok<{ items: Array<{ name: string }>; nextCursor: string | null }>('GET', `${base}/branches?limit=2`);
    const second = await api.ok<{ items: Array<{ name: string }>; nextCursor: string | null }>('GET', `${base}/branches?limit=2&cursor=${first.nextCursor}`);
    expect([...first.items, ...second.items].map((b) => b.name)).toEqual(['dev', 'main', 'release/1']);
    expect(second.nextCursor).toBeNull();
    const tags = await api.ok<{ items: Array<{ name: string; commit: string }> }>('GET', `${base}/tags`);
    expect(tags.items).toEqual([{ name: 'v1', commit: repo.info('HEAD').sha }]);
  });

  it('refuses refs that git would read as options', async () => {
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'git', name: `refs-${run}` });
    const repo = git.createRepo(`acme/refs-${run}`);
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/urls/repositories/refs/build-rules', {
      sourceId: source.id,
      repository: repo.url,
      trigger: { type: 'branch', branch: 'main' },
    });
    for (const body of [{ branch: '--upload-pack=x' }, { tag: '-x' }, { branch: 'main', commit: '--all' }]) {
      const res = await api.call('POST', `/api/v1/build-rules/${rule.id}/builds`, body);
      expect(res.status).toBe(400);
    }
    expect((await api.call('POST', '/api/v1/namespaces/urls/repositories/refs2/build-rules', { sourceId: source.id, repository: repo.url, trigger: { type: 'branch', branch: '-f' } })).status).toBe(
      400,
    );
    expect((await api.ok<{ items: unknown[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`)).items).toEqual([]);
  });
});

describe('code sources: cloning over SSH with a stored or generated key', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;
  const finished = (id: string) =>
    expectEventually(
      async () => {
        const b = await api.ok<{ status: string; failure: { type: string; hint: string } | null; steps: Array<{ name: string; attempt: number }> }>('GET', `/api/v1/builds/${id}`);
        expect(['succeeded', 'failed', 'cancelled']).toContain(b.status);
        return b;
      },
      120_000,
      250,
    );

  onStack(sharedStack, (t) => ({ stack, git, api } = t));

  it('builds through a key Kiln generated, once its public half is a deploy key', async () => {
    const created = await api.ok<{ id: string; credentials: string; sshPublicKey: string }>('POST', '/api/v1/sources', { provider: 'git', name: `gen-${run}`, generateSshKey: true });
    expect(created.credentials).toBe('ssh-key');
    expect(created.sshPublicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ kiln-gen-/);
    expect(JSON.stringify(created)).not.toContain('PRIVATE KEY');
    authorizeSshKey(created.sshPublicKey);
    const repo = git.createRepo(`acme/ssh-gen-${run}`);
    repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo over-ssh-${run} > /via\n` }, 'ssh');
    repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/ssh/repositories/gen/build-rules', {
      sourceId: created.id,
      repository: git.sshUrl(repo.fullName),
      trigger: { type: 'branch', branch: 'main' },
    });
    // Build now by branch: the branch is resolved over SSH too.
    const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    const b = await finished(buildId);
    expect(b.status).toBe('succeeded');
  });

  it('fails at once with SourceAuthFailed for a key the server does not know, and builds after a new key is stored', async () => {
    const unknown = sshKeyPair('unknown');
    const known = sshKeyPair('known');
    authorizeSshKey(known.publicKey);
    const source = await api.ok<{ id: string; sshPublicKey: string }>('POST', '/api/v1/sources', { provider: 'git', name: `stored-${run}`, sshPrivateKey: unknown.privateKey });
    expect(source.sshPublicKey).toBe(unknown.publicKey.split(' ').slice(0, 2).join(' ') + ' ' + unknown.publicKey.split(' ')[2]);
    const repo = git.createRepo(`acme/ssh-stored-${run}`);
    const c = repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo stored-${run}\n` }, 'stored');
    repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/ssh/repositories/stored/build-rules', {
      sourceId: source.id,
      repository: git.sshUrl(repo.fullName),
      trigger: { type: 'branch', branch: 'main' },
    });
    const refusedNow = await api.call('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    expect(refusedNow.status).toBe(422);
    expect(refusedNow.body).toMatchObject({ code: 'SourceAuthFailed' });
    await api.ok('PATCH', `/api/v1/sources/${source.id}`, { name: `stored-${run}` }); // no new credentials: state stays
    expect((await api.ok<{ status: string }>('GET', `/api/v1/sources/${source.id}`)).status).toBe('unauthorized');
    // A build of a known commit gets as far as the clone, which the server refuses: once, no retries.
    const byCommit = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { commit: c.sha, branch: 'main' });
    const failed = await finished(byCommit.buildId);
    expect(failed.status).toBe('failed');
    expect(failed.failure).toMatchObject({ type: 'SourceAuthFailed', hint: expect.stringContaining('re-authorize') });
    expect(failed.steps.filter((s) => s.name === 'clone').map((s) => s.attempt)).toEqual([1]);

    const renewed = await api.ok<{ status: string; sshPublicKey: string }>('PATCH', `/api/v1/sources/${source.id}`, { sshPrivateKey: known.privateKey });
    expect(renewed.status).toBe('ok');
    const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    expect((await finished(buildId)).status).toBe('succeeded');

    // No key and no token in clear anywhere Kiln stores or logs things.
    const keyBody = known.privateKey.split('\n')[2];
    const pg = new PgClient({ connectionString: `postgres://postgres@127.0.0.1:5432/${stack.database}` });
    await pg.connect();
    try {
      const schemas = (
        await pg.query(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema IN ('rules','logs','gateway') AND table_type = 'BASE TABLE'`)
      ).rows.map((r: { t: string }) => r.t);
      expect(schemas.length).toBeGreaterThan(5);
      for (const t of schemas) {
        const hits = await pg.query(`SELECT count(*)::int AS n FROM ${t} x WHERE x::text LIKE $1 OR x::text LIKE $2`, [`%${keyBody}%`, '%PRIVATE KEY%']);
        expect({ t, n: hits.rows[0].n }).toEqual({ t, n: 0 });
      }
    } finally {
      await pg.end();
    }
    for (const f of readdirSync(stack.logDir)) expect(readFileSync(join(stack.logDir, f), 'utf8')).not.toContain(keyBody);
  });
});

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
    stack = await startStack(GATEWAY_PORT, {
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
    const pg = new PgClient({ connectionString: `postgres://postgres@127.0.0.1:5432/${stack.database}` });
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
