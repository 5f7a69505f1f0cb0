import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { Api } from './support/api';
import { expectEventually } from './support/expect-eventually';
import { authorizeSshKey, GitFixture, sshKeyPair } from './support/git-fixture';
import { services, Stack, startStack } from './support/stack';

jest.setTimeout(300_000);

describe('code sources: URLs Kiln refuses to contact', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    stack = await startStack(19580);
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
  });

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
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/urls/repositories/allowed/build-rules', { sourceId: source.id, repository: repo.url, trigger: { type: 'branch', branch: 'main' } });
    const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    await expectEventually(async () => expect((await api.ok<{ status: string }>('GET', `/api/v1/builds/${buildId}`)).status).toBe('succeeded'), 120_000, 250);
    // localhost is the same loopback address: allowed through the resolved address.
    const viaName = await api.call('PATCH', `/api/v1/build-rules/${rule.id}`, { repository: repo.url.replace('127.0.0.1', 'localhost') });
    expect(viaName.status).toBe(200);
  });

  it('refuses refs that git would read as options', async () => {
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'git', name: `refs-${run}` });
    const repo = git.createRepo(`acme/refs-${run}`);
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/urls/repositories/refs/build-rules', { sourceId: source.id, repository: repo.url, trigger: { type: 'branch', branch: 'main' } });
    for (const body of [{ branch: '--upload-pack=x' }, { tag: '-x' }, { branch: 'main', commit: '--all' }]) {
      const res = await api.call('POST', `/api/v1/build-rules/${rule.id}/builds`, body);
      expect(res.status).toBe(400);
    }
    expect((await api.call('POST', '/api/v1/namespaces/urls/repositories/refs2/build-rules', { sourceId: source.id, repository: repo.url, trigger: { type: 'branch', branch: '-f' } })).status).toBe(400);
    expect((await api.ok<{ items: unknown[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`)).items).toEqual([]);
  });
});

describe('code sources: cloning over SSH with a stored or generated key', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;
  const finished = (id: string) =>
    expectEventually(async () => {
      const b = await api.ok<{ status: string; failure: { type: string; hint: string } | null; steps: Array<{ name: string; attempt: number }> }>('GET', `/api/v1/builds/${id}`);
      expect(['succeeded', 'failed', 'cancelled']).toContain(b.status);
      return b;
    }, 120_000, 250);

  beforeAll(async () => {
    stack = await startStack(19680);
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
  });

  it('builds through a key Kiln generated, once its public half is a deploy key', async () => {
    const created = await api.ok<{ id: string; credentials: string; sshPublicKey: string }>('POST', '/api/v1/sources', { provider: 'git', name: `gen-${run}`, generateSshKey: true });
    expect(created.credentials).toBe('ssh-key');
    expect(created.sshPublicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ kiln-gen-/);
    expect(JSON.stringify(created)).not.toContain('PRIVATE KEY');
    authorizeSshKey(created.sshPublicKey);
    const repo = git.createRepo(`acme/ssh-gen-${run}`);
    repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo over-ssh-${run} > /via\n` }, 'ssh');
    repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/ssh/repositories/gen/build-rules', { sourceId: created.id, repository: git.sshUrl(repo.fullName), trigger: { type: 'branch', branch: 'main' } });
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
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/ssh/repositories/stored/build-rules', { sourceId: source.id, repository: git.sshUrl(repo.fullName), trigger: { type: 'branch', branch: 'main' } });
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
    const pg = new PgClient({ connectionString: `postgres://postgres@127.0.0.1:5432/${services.database}` });
    await pg.connect();
    try {
      const schemas = (await pg.query(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema IN ('rules','logs','gateway') AND table_type = 'BASE TABLE'`)).rows.map((r: { t: string }) => r.t);
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
