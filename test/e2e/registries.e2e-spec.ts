import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from './support/api';
import { GitFixture } from './support/git-fixture';
import { OwnRegistry, registryTags } from './support/registry';
import { Scenario } from './support/scenario';
import { buildctlBuildArgs, buildNow } from './support/builds';
import { services, sharedStack, Stack } from './support/stack';

jest.setTimeout(300_000);

/** The test registry's API with its own credentials. */
async function tagsIn(registry: OwnRegistry, repository: string): Promise<string[]> {
  const c = registry.credentials as { username: string; password: string };
  const res = await fetch(`http://${registry.address}/v2/${repository}/tags/list`, { headers: { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` } });
  return res.status === 200 ? ((await res.json()) as { tags: string[] }).tags : [];
}

/** A private base image in the test registry, built and pushed with BuildKit as any user of that registry would. */
function pushPrivateBase(registry: OwnRegistry, reference: string, text: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-private-base-'));
  writeFileSync(join(dir, 'Dockerfile'), `FROM kiln/busybox:local\nRUN echo ${text} > /base.txt\n`);
  const kiln = JSON.parse(readFileSync(services.registryAuthFile, 'utf8')) as { auths: Record<string, unknown> };
  const c = registry.credentials as { username: string; password: string };
  kiln.auths[registry.address] = { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(kiln));
  execFileSync(services.buildctl, buildctlBuildArgs(services.buildkit, dir, reference), {
    env: { ...process.env, DOCKER_CONFIG: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

describe('registries with credentials: push to them, pull private base images from them', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  // The suite's private registry: basic auth, plain HTTP, on the build network (scripts/kiln lets BuildKit pull from it).
  const registry = OwnRegistry.create(15070, { username: 'pusher', password: 'right-password-1' });
  const run = `${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    await registry.start();
    stack = sharedStack();
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
    pushPrivateBase(registry, `${registry.address}/private/base:1`, `private-base-${run}`);
  });

  afterAll(async () => {
    await git?.stop();
    await stack?.stop();
    await registry.stop();
  });

  const build = (ruleId: string) => buildNow(api, ruleId);

  it('keeps the password write-only and refuses bad input, changing nothing', async () => {
    const created = await api.ok<Record<string, unknown>>('POST', '/api/v1/registries', { host: 'Registry.Example.com:5000', username: 'u', password: 'never-shown-1' });
    expect(created).toMatchObject({ host: 'registry.example.com:5000', username: 'u', insecure: false, name: 'registry.example.com:5000' });
    expect(JSON.stringify(created)).not.toContain('never-shown-1');
    expect(JSON.stringify(await api.ok('GET', `/api/v1/registries/${created.id}`))).not.toContain('never-shown-1');
    expect(JSON.stringify(await api.ok('GET', '/api/v1/registries'))).not.toContain('never-shown-1');
    const countBefore = (await api.ok<{ items: unknown[] }>('GET', '/api/v1/registries')).items.length;
    for (const [body, field] of [
      [{ host: 'https://ghcr.io', username: 'u', password: 'p' }, 'host'],
      [{ host: 'ghcr.io/acme', username: 'u', password: 'p' }, 'host'],
      [{ host: 'ghcr.io', username: 'u' }, 'password'],
      [{ host: 'ghcr.io', username: 'u', password: 'p', token: 'x' }, 'token'],
    ] as const) {
      const res = await api.call('POST', '/api/v1/registries', body);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain(field);
    }
    expect((await api.ok<{ items: unknown[] }>('GET', '/api/v1/registries')).items).toHaveLength(countBefore);
    // A read-only token cannot add one.
    const reader = await api.ok<{ token: string }>('POST', '/api/v1/tokens', { name: 'reader', role: 'read', namespaces: ['*'] });
    expect((await api.withToken(reader.token).call('POST', '/api/v1/registries', { host: 'ghcr.io', username: 'u', password: 'p' })).status).toBe(403);
  });

  it('pushes to the rule’s registry with its credentials, pulling a private base image from it', async () => {
    const target = await api.ok<{ id: string }>('POST', '/api/v1/registries', { name: 'team registry', host: registry.address, username: 'pusher', password: 'right-password-1', insecure: true });
    const s = await Scenario.create(api, git, `acme/private-${run}`);
    s.repo.commit({ Dockerfile: `FROM ${registry.address}/private/base:1\nRUN cp /base.txt /copied.txt && cat /copied.txt\n` }, 'private base');
    s.repo.push('refs/heads/main');
    // A rule may name only registries that exist.
    const refused = await api.call('POST', '/api/v1/namespaces/reg/repositories/target/build-rules', {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
      pushRegistryId: '00000000-0000-4000-8000-000000000000',
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('pushRegistryId');
    const rule = await api.ok<{ id: string; pushRegistryId: string; pullRegistryIds: string[] }>('POST', '/api/v1/namespaces/reg/repositories/target/build-rules', {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
      pushRegistryId: target.id,
      pullRegistryIds: [target.id],
    });
    expect(rule).toMatchObject({ pushRegistryId: target.id, pullRegistryIds: [target.id] });

    const b = await build(rule.id);
    expect(b.failure).toBeNull();
    expect(b.status).toBe('succeeded');
    expect(b.tags[0].startsWith(`${registry.address}/reg/target:`)).toBe(true);
    expect(await tagsIn(registry, 'reg/target')).toEqual([b.tags[0].split(':').pop()]);
    expect(await registryTags('reg/target')).toEqual([]); // nothing went to Kiln's own registry
    const logs = await api.ok<{ items: Array<{ text: string }> }>('GET', `/api/v1/builds/${b.id}/logs?step=build&limit=1000`);
    expect(logs.items.map((l) => l.text)).toContain(`private-base-${run}`);
    expect(JSON.stringify(logs)).not.toContain('right-password-1');

    // Deleting a registry a rule uses is refused, naming the rule.
    const del = await api.call('DELETE', `/api/v1/registries/${target.id}`);
    expect(del.status).toBe(409);
    expect(JSON.stringify(del.body)).toContain(rule.id);

    // A wrong password fails the build once, as RegistryAuthFailed with a hint: no retries.
    await api.ok('PATCH', `/api/v1/registries/${target.id}`, { password: 'wrong-password-2' });
    const failed = await build(rule.id);
    expect(failed.status).toBe('failed');
    expect(failed.failure).toMatchObject({ type: 'RegistryAuthFailed', message: expect.stringContaining(registry.address), hint: expect.stringContaining('/api/v1/registries') });
    expect(failed.steps.filter((x) => x.name === 'build').map((x) => `${x.attempt}:${x.status}`)).toEqual(['1:failed']);
  });

  it('fails a private base image without credentials as RegistryAuthFailed, once', async () => {
    const s = await Scenario.create(api, git, `acme/nocreds-${run}`);
    s.repo.commit({ Dockerfile: `FROM ${registry.address}/private/base:1\n` }, 'no credentials');
    s.repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/reg/repositories/nocreds/build-rules', {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    const b = await build(rule.id);
    expect(b.failure).toMatchObject({ type: 'RegistryAuthFailed', message: expect.stringContaining(registry.address) });
    expect(b.steps.filter((x) => x.name === 'build')).toHaveLength(1);
  });
});
