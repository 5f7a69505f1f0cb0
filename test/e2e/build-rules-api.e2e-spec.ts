import { createKilnClient } from '@kiln/api-client';
import { buildStatusV1 } from '@kiln/contracts';
import { EventBus, JsonLogger } from '@kiln/platform/standalone';
import { Api } from './support/api';
import { onStack } from './support/on-stack';
import { expectEventually } from './support/expect-eventually';
import { GitFixture } from './support/git-fixture';
import { manifestDigest } from './support/registry';
import { BuildItem, Scenario } from './support/scenario';
import { sharedStack, Stack } from './support/stack';

jest.setTimeout(300_000);

const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const dockerfile = (extra = '') => `FROM kiln/busybox:local\nCOPY . /src\n${extra}CMD ["cat", "/src/hello.txt"]\n`;

describe('build rules and builds through the REST API', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  onStack(sharedStack, (t) => ({ stack, git, api } = t));

  const rulesPath = (ns: string, repo: string) => `/api/v1/namespaces/${ns}/repositories/${repo}/build-rules`;

  describe('code sources', () => {
    it('creates a source, shows the secret once, and never returns credentials again', async () => {
      const created = await api.call<Record<string, unknown>>('POST', '/api/v1/sources', { provider: 'gitlab', name: 'self-managed', baseUrl: 'https://gitlab.example.com/', token: 'glpat-secret-1' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ provider: 'gitlab', baseUrl: 'https://gitlab.example.com', status: 'ok', webhookSecret: expect.any(String) });
      const id = String(created.body.id);
      const got = await api.call('GET', `/api/v1/sources/${id}`);
      expect(got.status).toBe(200);
      expect(JSON.stringify(got.body)).not.toMatch(/glpat-secret-1|webhookSecret/);
      expect(JSON.stringify(await api.ok('GET', '/api/v1/sources'))).not.toContain('glpat-secret-1');

      const renamed = await api.call('PATCH', `/api/v1/sources/${id}`, { name: 'renamed', token: 'glpat-secret-2' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ name: 'renamed', status: 'ok' });
      expect(JSON.stringify(renamed.body)).not.toContain('glpat-secret-2');

      expect((await api.call('DELETE', `/api/v1/sources/${id}`)).status).toBe(200);
      expect((await api.call('GET', `/api/v1/sources/${id}`)).status).toBe(404);
    });

    it.each([
      ['an unknown provider', { provider: 'svn', name: 'x' }, 'provider'],
      ['a base URL that is not http(s)', { provider: 'github', name: 'x', baseUrl: 'file:///etc' }, 'baseUrl'],
      ['a short webhook secret', { provider: 'github', name: 'x', webhookSecret: 'short' }, 'webhookSecret'],
      ['an unknown field', { provider: 'github', name: 'x', colour: 'red' }, '(body)'],
      ['a password without a user', { provider: 'git', name: 'x', password: 'p' }, 'username'],
    ])('refuses %s with 400 naming the field, and creates nothing', async (_t, body, field) => {
      const before = (await api.ok<{ items: unknown[] }>('GET', '/api/v1/sources')).items.length;
      const res = await api.call<{ fields: Array<{ field: string }> }>('POST', '/api/v1/sources', body);
      expect(res.status).toBe(400);
      expect(res.body.fields.map((f) => f.field)).toContain(field);
      expect((await api.ok<{ items: unknown[] }>('GET', '/api/v1/sources')).items.length).toBe(before);
    });

    it('refuses to delete a source that rules use (409), and answers 404 for unknown ids', async () => {
      const s = await Scenario.create(api, git, `acme/src-${run}`);
      await api.ok('POST', rulesPath('demo', 'src-guard'), { sourceId: s.source.id, repository: s.repo.fullName, trigger: { type: 'tag' } });
      expect((await api.call('DELETE', `/api/v1/sources/${s.source.id}`)).status).toBe(409);
      expect((await api.call('GET', '/api/v1/sources/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await api.call('GET', '/api/v1/sources/not-a-uuid')).status).toBe(404);
    });
  });

  describe('rules', () => {
    let s: Scenario;
    beforeAll(async () => {
      s = await Scenario.create(api, git, `acme/rules-${run}`);
    });

    it('fills defaults and lists with cursor paging', async () => {
      const a = await api.ok<Record<string, unknown>>('POST', rulesPath('paging', 'app'), { sourceId: s.source.id, repository: s.repo.fullName, trigger: { type: 'tag' } });
      expect(a).toMatchObject({
        namespace: 'paging',
        imageRepository: 'app',
        dockerfilePath: 'Dockerfile',
        contextDir: '.',
        autoTrigger: true,
        tagRule: { prefix: '', parts: ['ref', 'time', 'commit'], timeFormat: 'YYYYMMDDHHmmss', timeZone: 'UTC', commitLength: 7 },
      });
      const b = await api.ok<{ id: string }>('POST', rulesPath('paging', 'app'), {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'anyBranch' },
        contextDir: './app/',
        dockerfilePath: 'docker/Dockerfile',
      });
      expect(b).toMatchObject({ contextDir: 'app', dockerfilePath: 'docker/Dockerfile' });
      const page1 = await api.ok<{ items: Array<{ id: string }>; nextCursor: string }>('GET', `${rulesPath('paging', 'app')}?limit=1`);
      expect(page1.items.map((r) => r.id)).toEqual([a.id]);
      const page2 = await api.ok<{ items: Array<{ id: string }>; nextCursor: string | null }>('GET', `${rulesPath('paging', 'app')}?limit=1&cursor=${page1.nextCursor}`);
      expect(page2).toEqual({ items: [expect.objectContaining({ id: b.id })], nextCursor: null });
      expect((await api.ok<Record<string, unknown>>('GET', `/api/v1/build-rules/${b.id}`)).id).toBe(b.id);
      expect((await api.call('GET', '/api/v1/build-rules/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    });

    it.each([
      ['an image repository outside the registry grammar', 'Demo', {}, 'repository'],
      ['an absolute Dockerfile path', 'ok', { dockerfilePath: '/etc/Dockerfile' }, 'dockerfilePath'],
      ['a context that leaves the repository', 'ok', { contextDir: 'app/../../x' }, 'contextDir'],
      ['a pattern RE2 cannot run', 'ok', { trigger: { type: 'refRegex', pattern: '^(a)\\1$' } }, 'trigger.pattern'],
      ['an unknown trigger type', 'ok', { trigger: { type: 'weekly' } }, 'trigger.type'],
      ['a branch trigger without a branch', 'ok', { trigger: { type: 'branch' } }, 'trigger.branch'],
      ['a tag rule that can never be valid', 'ok', { tagRule: { prefix: '-bad', parts: ['ref'] } }, 'tagRule.prefix'],
      ['an unknown source', 'ok', { sourceId: '00000000-0000-4000-8000-000000000000' }, 'sourceId'],
      ['a repository that is not owner/name', 'ok', { repository: 'just-a-name' }, 'repository'],
    ])('refuses %s with 400 naming the field, and writes nothing', async (_t, ns, override, field) => {
      const body = { sourceId: s.source.id, repository: s.repo.fullName, trigger: { type: 'tag' }, ...override };
      const res = await api.call<{ fields: Array<{ field: string }> }>('POST', rulesPath(ns, 'app'), body);
      expect(res.status).toBe(400);
      expect(res.body.fields.map((f) => f.field)).toContain(field);
      expect((await api.ok<{ items: unknown[] }>('GET', rulesPath(ns, 'app'))).items).toEqual([]);
    });

    it('is driven by the client generated from the OpenAPI document, with typed bodies, answers and errors', async () => {
      const kiln = createKilnClient({ baseUrl: stack.gatewayUrl, token: stack.adminToken });
      const created = await kiln.POST('/api/v1/namespaces/{ns}/repositories/{repo}/build-rules', {
        params: { path: { ns: 'client', repo: 'app' } },
        body: { sourceId: s.source.id, repository: s.repo.fullName, trigger: { type: 'branch', branch: 'main' }, tagRule: { prefix: 'cli', parts: ['ref'] } },
      });
      expect(created.response.status).toBe(201);
      const rule = created.data;
      if (!rule) throw new Error(`no rule: ${JSON.stringify(created.error)}`);
      expect(rule).toMatchObject({ namespace: 'client', trigger: { type: 'branch', branch: 'main' }, dockerfilePath: 'Dockerfile', source: { status: 'ok' } });
      const preview = await kiln.POST('/api/v1/build-rules/{id}/preview', { params: { path: { id: rule.id } }, body: { ref: 'refs/heads/main', commit: 'a'.repeat(40) } });
      expect(preview.data).toMatchObject({ wouldFire: true, reason: null, tag: 'cli-main' });
      const list = await kiln.GET('/api/v1/namespaces/{ns}/repositories/{repo}/build-rules', { params: { path: { ns: 'client', repo: 'app' }, query: { limit: 10 } } });
      expect(list.data?.items.map((r) => r.id)).toEqual([rule.id]);
      const off = await kiln.PUT('/api/v1/build-rules/{id}/auto-trigger', { params: { path: { id: rule.id } }, body: { enabled: false } });
      expect(off.data?.autoTrigger).toBe(false);
      // A query parameter of the wrong kind is refused by the gateway with the parameter's name, as documented.
      const bad = await fetch(`${stack.gatewayUrl}/api/v1/builds?limit=ten`, { headers: { Authorization: `Bearer ${stack.adminToken}` } });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ code: 'ValidationFailed', fields: [{ field: 'limit', message: 'must be a whole number' }] });
      const gone = await kiln.DELETE('/api/v1/build-rules/{id}', { params: { path: { id: rule.id } } });
      expect(gone.data).toEqual({ deleted: true });
      const missing = await kiln.GET('/api/v1/build-rules/{id}', { params: { path: { id: rule.id } } });
      expect(missing.response.status).toBe(404);
      expect(missing.error).toMatchObject({ status: 404, code: 'NotFound' });
    });

    it('previews whether a rule fires and the exact tag, for slash and unicode refs', async () => {
      const rule = await api.ok<{ id: string }>('POST', rulesPath('demo', 'preview'), {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'refRegex', pattern: '^refs/heads/(feature/.*|功能/.*)$' },
        tagRule: { prefix: 'web', parts: ['ref', 'commit'] },
      });
      const commit = 'abcdef0123456789abcdef0123456789abcdef01';
      const slash = await api.ok<{ wouldFire: boolean; tag: string; reason: string | null }>('POST', `/api/v1/build-rules/${rule.id}/preview`, { ref: 'refs/heads/feature/login-v2', commit });
      // A slash is lossy (feature/x and feature-x must not share a tag): the ref's hash comes with it.
      expect(slash).toMatchObject({ wouldFire: true, reason: null, tag: 'web-feature-login-v2-4ae81922-abcdef0' });
      const unicode = await api.ok<{ wouldFire: boolean; tag: string }>('POST', `/api/v1/build-rules/${rule.id}/preview`, { ref: 'refs/heads/功能/登录', commit });
      expect(unicode.wouldFire).toBe(true);
      expect(unicode.tag).toMatch(OCI_TAG);
      expect(unicode.tag).toMatch(/^web-[0-9a-f]{8}-abcdef0$/);
      const other = await api.ok<{ tag: string }>('POST', `/api/v1/build-rules/${rule.id}/preview`, { ref: 'refs/heads/功能/注册', commit });
      expect(other.tag).not.toBe(unicode.tag);
      const miss = await api.ok<{ wouldFire: boolean; reason: string }>('POST', `/api/v1/build-rules/${rule.id}/preview`, { ref: 'refs/heads/main', commit });
      expect(miss).toMatchObject({ wouldFire: false, reason: expect.stringContaining('does not match') });
      expect((await api.call('POST', `/api/v1/build-rules/${rule.id}/preview`, { ref: 'main', commit: 'xyz' })).status).toBe(400);
    });
  });

  describe('triggers on real pushes', () => {
    it('gives feature/x and feature-x two tags: a lossy rendering never lets one build replace the other', async () => {
      const s = await Scenario.create(api, git, `acme/twotags-${run}`);
      const rule = await api.ok<{ id: string }>('POST', rulesPath('trig', 'twotags'), {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'anyBranch' },
        tagRule: { prefix: 'web', parts: ['ref'] },
      });
      s.repo.commit({ Dockerfile: dockerfile(), 'hello.txt': `main ${run}\n` }, 'main');
      s.repo.push('refs/heads/main');
      const built: BuildItem[] = [];
      for (const branch of ['feature/x', 'feature-x']) {
        s.repo.checkout('main');
        s.repo.checkout(branch, true);
        s.repo.commit({ 'hello.txt': `${branch} ${run}\n` }, branch);
        const pushed = await s.pushAndDeliver(`refs/heads/${branch}`);
        built.push(await s.finished(rule.id, (b) => b.commit === pushed.commit));
      }
      expect(built.map((b) => b.status)).toEqual(['succeeded', 'succeeded']);
      const [slashed, dashed] = built.map((b) => b.tags[0].split(':').pop() as string);
      expect(dashed).toBe('web-feature-x');
      expect(slashed).toMatch(/^web-feature-x-[0-9a-f]{8}$/);
      // Both images stay in the registry under their own tags, and the preview names the exact tag.
      expect(await manifestDigest('trig/twotags', slashed)).toBe(built[0].digest);
      expect(await manifestDigest('trig/twotags', dashed)).toBe(built[1].digest);
      const preview = await api.ok<{ tag: string }>('POST', `/api/v1/build-rules/${rule.id}/preview`, { ref: 'refs/heads/feature/x', commit: built[0].commit });
      expect(preview.tag).toBe(slashed);
    });

    it('fires each trigger type on what it should and on nothing else', async () => {
      const s = await Scenario.create(api, git, `acme/triggers-${run}`);
      const mk = (repo: string, trigger: unknown) => api.ok<{ id: string }>('POST', rulesPath('trig', repo), { sourceId: s.source.id, repository: s.repo.fullName, trigger });
      const branch = await mk('branch', { type: 'branch', branch: 'main' });
      const tag = await mk('tag', { type: 'tag' });
      const any = await mk('any', { type: 'anyBranch' });
      const regex = await mk('regex', { type: 'refRegex', pattern: '^refs/heads/(master|release/.*)$' });

      s.repo.commit({ Dockerfile: dockerfile(), 'hello.txt': `main ${run}\n` }, 'main');
      const onMain = await s.pushAndDeliver('refs/heads/main');
      s.repo.checkout('release/1.x', true);
      s.repo.commit({ 'hello.txt': `release ${run}\n` }, 'release');
      const onRelease = await s.pushAndDeliver('refs/heads/release/1.x');
      s.repo.checkout('功能/登录', true);
      s.repo.commit({ 'hello.txt': `unicode ${run}\n` }, '登录: unicode branch and message');
      const onUnicode = await s.pushAndDeliver('refs/heads/功能/登录');
      s.repo.checkout('release/1.x');
      s.repo.tag('v1.0.0', 'Release 1.0.0 (annotated)');
      const onTag = await s.pushAndDeliver('refs/tags/v1.0.0');
      // Deleting the branch is delivered too, and builds nothing anywhere.
      s.repo.checkout('main');
      await s.deleteAndDeliver('refs/heads/release/1.x');
      // A last push to main: once its builds exist, every earlier event was evaluated (one ordered consumer).
      s.repo.commit({ 'hello.txt': `main again ${run}\n` }, 'main again');
      const last = await s.pushAndDeliver('refs/heads/main');

      const commitsOf = async (ruleId: string, expected: number) =>
        expectEventually(async () => {
          const builds = await s.builds(ruleId);
          expect(builds.length).toBe(expected);
          return builds.map((b: BuildItem) => `${b.ref}@${b.commit.slice(0, 7)}`).sort();
        }, 60_000);
      const at = (ref: string, c: string) => `${ref}@${c.slice(0, 7)}`;
      expect(await commitsOf(branch.id, 2)).toEqual([at('refs/heads/main', onMain.commit), at('refs/heads/main', last.commit)].sort());
      expect(await commitsOf(any.id, 4)).toEqual(
        [at('refs/heads/main', onMain.commit), at('refs/heads/release/1.x', onRelease.commit), at('refs/heads/功能/登录', onUnicode.commit), at('refs/heads/main', last.commit)].sort(),
      );
      // Slash and unicode branch names become tag-safe tags the registry serves.
      const release = await s.finished(any.id, (b) => b.ref === 'refs/heads/release/1.x');
      expect(release.tags[0]).toMatch(new RegExp(`:release-1.x-ce83ef10-\\d{14}-${onRelease.commit.slice(0, 7)}$`));
      const unicode = await s.finished(any.id, (b) => b.ref === 'refs/heads/功能/登录');
      const unicodeTag = unicode.tags[0].split(':').pop() as string;
      expect(unicodeTag).toMatch(OCI_TAG);
      expect(unicodeTag).toMatch(new RegExp(`^[0-9a-f]{8}-\\d{14}-${onUnicode.commit.slice(0, 7)}$`));
      expect(await manifestDigest('trig/any', unicodeTag)).toBe(unicode.digest);
      expect(await manifestDigest('trig/any', release.tags[0].split(':').pop() as string)).toBe(release.digest);
      expect(await commitsOf(regex.id, 1)).toEqual([at('refs/heads/release/1.x', onRelease.commit)]);
      // The annotated tag builds the commit it points at.
      const tagBuilds = await commitsOf(tag.id, 1);
      expect(tagBuilds).toEqual([at('refs/tags/v1.0.0', onRelease.commit)]);
      expect(onTag.commit).toBe(onRelease.commit);
      const tagged = await s.finished(tag.id, () => true);
      expect(tagged.status).toBe('succeeded');
      expect(tagged.tags[0]).toMatch(/:v1.0.0-\d{14}-[0-9a-f]{7}$/);
    });
  });

  describe('auto-trigger, build now, edit and delete', () => {
    let s: Scenario;
    let rule: { id: string };
    beforeAll(async () => {
      s = await Scenario.create(api, git, `acme/manual-${run}`);
      rule = await api.ok<{ id: string }>('POST', rulesPath('demo', 'manual'), {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
        tagRule: { prefix: 'm', parts: ['ref', 'commit'] },
      });
    });

    it('builds nothing on push while auto-trigger is off, but build now still works', async () => {
      const off = await api.call<{ autoTrigger: boolean }>('PUT', `/api/v1/build-rules/${rule.id}/auto-trigger`, { enabled: false });
      expect(off).toMatchObject({ status: 200, body: { autoTrigger: false } });
      expect((await api.call('PUT', `/api/v1/build-rules/${rule.id}/auto-trigger`, { enabled: 'no' })).status).toBe(400);
      const c1 = s.repo.commit({ Dockerfile: dockerfile(), 'hello.txt': `off ${run}\n` }, 'while off');
      await s.pushAndDeliver('refs/heads/main');

      const now = await api.call<{ buildId: string; workflowId: string; commit: string; ref: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
      expect(now.status).toBe(202);
      expect(now.body).toMatchObject({ commit: c1.sha, ref: 'refs/heads/main', workflowId: `build-${rule.id}-${now.body.buildId}` });
      const manual = await s.finished(rule.id, (b) => b.id === now.body.buildId);
      expect(manual).toMatchObject({ status: 'succeeded', trigger: { kind: 'manual', by: 'admin (configured)' } });
      expect(manual.tags[0]).toMatch(new RegExp(`:m-main-${c1.sha.slice(0, 7)}$`));
      expect(await manifestDigest('demo/manual', manual.tags[0].split(':').pop() as string)).toBe(manual.digest);

      await api.ok('PUT', `/api/v1/build-rules/${rule.id}/auto-trigger`, { enabled: true });
      const c2 = s.repo.commit({ 'hello.txt': `on ${run}\n` }, 'back on');
      await s.pushAndDeliver('refs/heads/main');
      await s.finished(rule.id, (b) => b.commit === c2.sha);
      // The push made while auto-trigger was off built nothing: only the manual build has c1.
      expect((await s.builds(rule.id)).filter((b) => b.commit === c1.sha).map((b) => b.trigger.kind)).toEqual(['manual']);
    });

    it('a build started now can be read at once, even while log-service is behind on build events', async () => {
      // A backlog of harmless reports (they change nothing) ahead of the new build's queued event on the stream.
      const earlier = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
      const bus = await EventBus.connect(stack.natsAdmin, 'build-rules-e2e', new JsonLogger('e2e', 'error'));
      try {
        for (let i = 0; i < 8; i++) await Promise.all(Array.from({ length: 250 }, () => bus.publish(buildStatusV1, { buildId: earlier.buildId, at: new Date().toISOString() })));
        const now = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
        const read = await api.call<{ id: string; status: string; trigger: { kind: string } }>('GET', `/api/v1/builds/${now.buildId}`);
        expect(read.status).toBe(200);
        expect(read.body).toMatchObject({ id: now.buildId, trigger: { kind: 'manual' } });
        for (const id of [earlier.buildId, now.buildId]) expect(await s.finished(rule.id, (b) => b.id === id)).toMatchObject({ status: 'succeeded' });
      } finally {
        await bus.close();
      }
    });

    it('builds now by tag and by commit, and answers 422 for a ref the source does not have', async () => {
      s.repo.tag('v2.0.0');
      s.repo.push('refs/tags/v2.0.0');
      const byTag = await api.ok<{ buildId: string; commit: string; ref: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { tag: 'v2.0.0' });
      expect(byTag.ref).toBe('refs/tags/v2.0.0');
      expect(byTag.commit).toBe(s.repo.info('HEAD').sha);
      const first = s.repo.info('HEAD~1').sha;
      const byCommit = await api.ok<{ buildId: string; ref: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { commit: first, branch: 'main' });
      expect(byCommit.ref).toBe('refs/heads/main');
      const t = await s.finished(rule.id, (b) => b.id === byTag.buildId);
      const c = await s.finished(rule.id, (b) => b.id === byCommit.buildId);
      expect([t.status, c.status]).toEqual(['succeeded', 'succeeded']);
      expect(t.tags[0]).toMatch(/:m-v2.0.0-[0-9a-f]{7}$/);
      expect(c.commit).toBe(first);

      const missing = await api.call<{ code: string; message: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'no-such-branch' });
      expect(missing.status).toBe(422);
      expect(missing.body).toMatchObject({ code: 'RefNotFound', message: expect.stringContaining('no-such-branch') });
      for (const bad of [{}, { branch: 'main', tag: 'v1' }, { commit: 'abc' }, { branch: '-x' }]) expect((await api.call('POST', `/api/v1/build-rules/${rule.id}/builds`, bad)).status).toBe(400);
    });

    it('applies an edit from the next push', async () => {
      const edited = await api.ok<{ tagRule: { prefix: string }; dockerfilePath: string }>('PATCH', `/api/v1/build-rules/${rule.id}`, {
        tagRule: { prefix: 'edited', parts: ['commit'] },
        dockerfilePath: 'build/Dockerfile',
      });
      expect(edited).toMatchObject({ tagRule: { prefix: 'edited' }, dockerfilePath: 'build/Dockerfile' });
      expect((await api.call('PATCH', `/api/v1/build-rules/${rule.id}`, { contextDir: '/abs' })).status).toBe(400);
      expect((await api.ok<{ contextDir: string }>('GET', `/api/v1/build-rules/${rule.id}`)).contextDir).toBe('.');
      const c = s.repo.commit({ 'build/Dockerfile': dockerfile('RUN echo edited\n'), 'hello.txt': `edited ${run}\n` }, 'edited rule');
      await s.pushAndDeliver('refs/heads/main');
      const build = await s.finished(rule.id, (b) => b.commit === c.sha);
      expect(build.status).toBe('succeeded');
      expect(build.tags[0]).toMatch(new RegExp(`:edited-${c.sha.slice(0, 7)}$`));
    });

    it('refuses to delete a running build, deletes a finished one with its logs', async () => {
      const c = s.repo.commit({ 'build/Dockerfile': dockerfile('RUN sleep 3\n'), 'hello.txt': `slow ${run}\n` }, 'slow build');
      s.repo.push('refs/heads/main');
      const started = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { commit: c.sha });
      const running = await expectEventually(async () => {
        const res = await api.call('DELETE', `/api/v1/builds/${started.buildId}`);
        expect(res.status).toBe(409);
        return res;
      });
      expect(running.status).toBe(409);
      const done = await s.finished(rule.id, (b) => b.id === started.buildId);
      expect((await api.call<{ items: unknown[] }>('GET', `/api/v1/builds/${done.id}/logs`)).body.items.length).toBeGreaterThan(0);
      expect((await api.call('DELETE', `/api/v1/builds/${done.id}`)).status).toBe(200);
      expect((await api.call('GET', `/api/v1/builds/${done.id}`)).status).toBe(404);
      expect((await api.call('GET', `/api/v1/builds/${done.id}/logs`)).status).toBe(404);
      expect((await api.call('DELETE', `/api/v1/builds/${done.id}`)).status).toBe(404);
    });

    it('filters builds by status, trigger kind, ref and time', async () => {
      const all = await s.builds(rule.id);
      const manual = await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}&triggerKind=manual`);
      expect(manual.items.length).toBe(all.filter((b) => b.trigger.kind === 'manual').length);
      expect(manual.items.every((b) => b.trigger.kind === 'manual')).toBe(true);
      const tags = await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}&ref=refs/tags/v2.0.0`);
      expect(tags.items.map((b) => b.ref)).toEqual(['refs/tags/v2.0.0']);
      expect((await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}&status=failed`)).items).toEqual([]);
      expect((await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}&since=2999-01-01T00:00:00Z`)).items).toEqual([]);
      const page = await api.ok<{ items: BuildItem[]; nextCursor: string }>('GET', `/api/v1/builds?ruleId=${rule.id}&limit=2`);
      const next = await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}&limit=200&cursor=${page.nextCursor}`);
      expect([...page.items, ...next.items].map((b) => b.id)).toEqual(all.map((b) => b.id));
      expect((await api.call('GET', '/api/v1/builds?status=weird')).status).toBe(400);
      expect((await api.call('GET', '/api/v1/builds?limit=lots')).status).toBe(400);
    });

    it('deletes the rule and keeps its builds readable, marked as from a deleted rule', async () => {
      const before = await s.builds(rule.id);
      expect((await api.call('DELETE', `/api/v1/build-rules/${rule.id}`)).status).toBe(200);
      expect((await api.call('GET', `/api/v1/build-rules/${rule.id}`)).status).toBe(404);
      await expectEventually(async () => {
        const after = await s.builds(rule.id);
        expect(after.map((b) => b.id)).toEqual(before.map((b) => b.id));
        expect(after.every((b) => b.ruleDeleted)).toBe(true);
      });
      // A push for the deleted rule builds nothing: the repository has no rule left.
      expect((await api.call('DELETE', `/api/v1/build-rules/${rule.id}`)).status).toBe(404);
    });
  });

  describe('tokens and access', () => {
    it('limits tokens to their namespaces and role: 401 without a token, 403 outside scope', async () => {
      const s = await Scenario.create(api, git, `acme/access-${run}`);
      const mkToken = (body: unknown) => api.ok<{ token: string; id: string }>('POST', '/api/v1/tokens', body);
      const reader = await mkToken({ name: 'team-a reader', role: 'read', namespaces: ['team-a'] });
      const writer = await mkToken({ name: 'team-a writer', role: 'write', namespaces: ['team-a'] });
      const listed = await api.ok<{ items: Array<Record<string, unknown>> }>('GET', '/api/v1/tokens');
      expect(JSON.stringify(listed)).not.toContain(reader.token);
      expect((await api.call('POST', '/api/v1/tokens', { name: 'x', role: 'owner', namespaces: [] })).status).toBe(400);

      const asReader = api.withToken(reader.token);
      const asWriter = api.withToken(writer.token);
      const body = { sourceId: s.source.id, repository: s.repo.fullName, trigger: { type: 'tag' } };
      expect((await asReader.call('POST', rulesPath('team-a', 'web'), body)).status).toBe(403);
      const created = await asWriter.call<{ id: string }>('POST', rulesPath('team-a', 'web'), body);
      expect(created.status).toBe(201);
      expect((await asWriter.call('POST', rulesPath('team-b', 'web'), body)).status).toBe(403);
      expect((await asReader.call('GET', `/api/v1/build-rules/${created.body.id}`)).status).toBe(200);
      expect((await asReader.call('DELETE', `/api/v1/build-rules/${created.body.id}`)).status).toBe(403);
      expect((await asReader.call('GET', rulesPath('demo', 'manual'))).status).toBe(403);
      expect((await asWriter.call('POST', '/api/v1/sources', { provider: 'github', name: 'nope' })).status).toBe(403);
      expect((await asWriter.call('GET', '/api/v1/tokens')).status).toBe(403);
      // Builds of other namespaces are not listed for a scoped token.
      const visible = await asReader.ok<{ items: BuildItem[] }>('GET', '/api/v1/builds?limit=200');
      expect(visible.items.every((b) => b.workflowId && b.ruleId)).toBe(true);
      expect(visible.items.length).toBe(0);

      expect((await api.withToken(null).call('GET', '/api/v1/tokens')).status).toBe(401);
      expect((await api.call('DELETE', `/api/v1/tokens/${reader.id}`)).status).toBe(200);
      expect((await asReader.call('GET', '/api/v1/sources')).status).toBe(401);
    });

    it('serves the OpenAPI document', async () => {
      const doc = await fetch(`${stack.gatewayUrl}/api/docs-json`).then((r) => r.json() as Promise<{ paths: Record<string, unknown> }>);
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/sources', '/api/v1/build-rules/{id}/builds', '/api/v1/builds/{id}/logs', '/api/v1/tokens']));
    });
  });
});
