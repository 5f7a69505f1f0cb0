import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { Api } from './support/api';
import { onStack } from './support/on-stack';
import { expectEventually } from './support/expect-eventually';
import { authorizeSshKey, git as runGit, GitFixture, sshKeyPair } from './support/git-fixture';
import { sharedStack, Stack } from './support/stack';

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
    const pg = new PgClient({ connectionString: stack.databaseAdminUrl });
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
