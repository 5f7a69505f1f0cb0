import { Api } from './support/api';
import { onStack } from './support/on-stack';
import { expectEventually } from './support/expect-eventually';
import { GitFixture, GitRepo } from './support/git-fixture';
import { githubPushPayload, sendGithubWebhook } from './support/github';
import { manifestDigest, pullAndRun, readImage, registryTags } from './support/registry';
import type { BuildItem } from './support/scenario';
import { services, sharedStack, Stack, storedPushes, tail } from './support/stack';

jest.setTimeout(300_000);

const DOCKERFILE = ['FROM kiln/busybox:local', 'COPY hello.txt /hello.txt', 'RUN echo "building $(cat /hello.txt)"', 'CMD ["cat", "/hello.txt"]', ''].join('\n');

describe('walking skeleton: a signed GitHub push becomes an image in the registry', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;

  onStack(sharedStack, (t) => ({ stack, git, api } = t));

  it('builds, tags and pushes each pushed commit once, and keeps its logs', async () => {
    const repo: GitRepo = git.createRepo('acme/hello');
    // Unique content per run, so the engine's layer cache from earlier runs cannot hide the build output.
    const run = `${process.pid}-${Date.now()}`;

    // 1. A source that points GitHub clone URLs at the loopback git server, and a rule for demo/hello.
    const source = await api.ok<{ id: string; webhookUrl: string; webhookSecret: string }>('POST', '/api/v1/sources', {
      provider: 'github',
      name: 'local-gh',
      baseUrl: git.baseUrl,
      token: 'ghp_e2e_token',
    });
    expect(source.webhookUrl).toBe(`${stack.webhookUrl}/webhooks/${source.id}`);
    expect(source.webhookSecret.length).toBeGreaterThanOrEqual(16);
    const listed = await api.ok<{ items: Array<Record<string, unknown>> }>('GET', '/api/v1/sources');
    expect(JSON.stringify(listed)).not.toContain(source.webhookSecret);
    expect(JSON.stringify(listed)).not.toContain('ghp_e2e_token');

    const rule = await api.ok<{ id: string; dockerfilePath: string; contextDir: string; autoTrigger: boolean }>('POST', '/api/v1/namespaces/demo/repositories/hello/build-rules', {
      sourceId: source.id,
      repository: 'acme/hello',
      trigger: { type: 'branch', branch: 'main' },
      dockerfilePath: 'Dockerfile',
      contextDir: '.',
      tagRule: { prefix: 'demo', parts: ['ref', 'time', 'commit'] },
      autoTrigger: true,
    });
    expect(rule).toMatchObject({ dockerfilePath: 'Dockerfile', contextDir: '.', autoTrigger: true });

    // 2. A real push, then GitHub's webhook for it.
    const first = repo.commit({ Dockerfile: DOCKERFILE, 'hello.txt': `hello from the first commit ${run}\n` }, 'First commit: add the image');
    const push1 = repo.push('refs/heads/main');
    expect(push1.after).toBe(first.sha);
    const payload1 = githubPushPayload(repo, 'refs/heads/main', push1, first, `${git.baseUrl}/acme/hello.git`);

    // 3. A bad signature is refused and stores nothing.
    const eventsBefore = await storedPushes();
    const forged = await sendGithubWebhook(source.webhookUrl, source.webhookSecret, 'push', payload1, { signature: 'sha256=' + '0'.repeat(64) });
    expect(forged.status).toBe(401);
    expect(await storedPushes()).toBe(eventsBefore);

    const t0 = Date.now();
    const delivery = await sendGithubWebhook(source.webhookUrl, source.webhookSecret, 'push', payload1);
    expect(delivery.status).toBe(202);
    expect(delivery.body.eventId).toEqual(expect.any(String));
    expect(await storedPushes()).toBe(eventsBefore + 1);

    // 4-7. The build succeeds; the registry serves the recorded tag with the recorded digest.
    const build1 = await waitForBuild(api, rule.id, first.sha);
    const t1 = Date.now();
    const [repository1, tag1] = splitReference(build1.tags[0]);
    expect(repository1).toBe(`${services.registry}/demo/hello`);
    expect(tag1).toMatch(new RegExp(`^demo-main-\\d{14}-${first.sha.slice(0, 7)}$`));
    expect(await manifestDigest('demo/hello', tag1)).toBe(build1.digest);
    const manifestAt = await expectEventually(async () => {
      expect(await registryTags('demo/hello')).toContain(tag1);
      return Date.now();
    });
    console.log(`webhook POST → build succeeded: ${t1 - t0} ms; manifest served by the registry at ${manifestAt - t0} ms`);
    expect(build1.workflowId).toBe(`build-${rule.id}-${delivery.body.eventId}`);
    expect(new Date(build1.finishedAt ?? 0).getTime()).toBeGreaterThanOrEqual(new Date(build1.startedAt ?? Date.now()).getTime());

    // The image, pulled back from the registry, holds the pushed commit's file.
    expect(await pullAndRun(build1.tags[0], ['cat', '/hello.txt'])).toBe(`hello from the first commit ${run}\n`);

    // The logs hold the docker build output, and the steps ran in order.
    const logs = await api.ok<{ items: Array<{ step: string; text: string; seq: number }>; nextCursor: string | null }>('GET', `/api/v1/builds/${build1.id}/logs?limit=1000`);
    const texts = logs.items.map((l) => l.text);
    expect(texts).toContain(`building hello from the first commit ${run}`);
    expect(texts.some((t) => /^#\d+ \[(stage-0 )?1\/\d+\] FROM docker\.io\/kiln\/busybox:local@sha256:[0-9a-f]{64}$/.test(t))).toBe(true);
    // BuildKit's execution details, per instruction, in the log.
    expect(texts.some((t) => /^#\d+ \[(stage-0 )?2\/\d+\] COPY hello\.txt \/hello\.txt$/.test(t))).toBe(true);
    expect(texts.some((t) => /^#\d+ DONE \d+\.\d+s$/.test(t))).toBe(true);
    // The image carries where it came from: OCI labels, read back from the registry.
    const labels = (JSON.parse((await readImage('demo/hello', tag1)).config) as { config: { Labels: Record<string, string> } }).config.Labels;
    expect(labels).toMatchObject({ 'org.opencontainers.image.revision': first.sha, 'org.opencontainers.image.source': `${git.baseUrl}/acme/hello.git` });
    expect(Date.parse(labels['org.opencontainers.image.created'])).toBeGreaterThanOrEqual(t0);
    expect(new Set(logs.items.map((l) => l.step))).toEqual(new Set(['clone', 'build', 'tag', 'push']));
    const detail = await api.ok<{ steps: Array<{ name: string; status: string }> }>('GET', `/api/v1/builds/${build1.id}`);
    expect(detail.steps.map((s) => `${s.name}:${s.status}`)).toEqual(['clone:succeeded', 'build:succeeded', 'tag:succeeded', 'push:succeeded']);

    // Posting the same delivery again is answered as before and stores nothing new.
    const again = await sendGithubWebhook(source.webhookUrl, source.webhookSecret, 'push', payload1, { deliveryId: delivery.deliveryId });
    expect(again.status).toBe(202);
    expect(again.body.eventId).toBe(delivery.body.eventId);
    expect(await storedPushes()).toBe(eventsBefore + 1);

    // A second push with new content yields a second, different image.
    const second = repo.commit({ 'hello.txt': `hello from the second commit ${run}\n` }, 'Second commit: new greeting');
    const push2 = repo.push('refs/heads/main');
    expect(push2.before).toBe(first.sha);
    const delivery2 = await sendGithubWebhook(source.webhookUrl, source.webhookSecret, 'push', githubPushPayload(repo, 'refs/heads/main', push2, second, `${git.baseUrl}/acme/hello.git`));
    expect(delivery2.status).toBe(202);
    const build2 = await waitForBuild(api, rule.id, second.sha);
    expect(build2.digest).not.toBe(build1.digest);
    expect(build2.tags[0]).not.toBe(build1.tags[0]);
    expect(await pullAndRun(build2.tags[0], ['cat', '/hello.txt'])).toBe(`hello from the second commit ${run}\n`);

    // Exactly two builds: the repeated delivery built nothing.
    const all = await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`);
    expect(all.items.map((b) => b.commit).sort()).toEqual([first.sha, second.sha].sort());
  });

  it('refuses API calls without a valid token', async () => {
    expect((await api.withToken(null).call('GET', '/api/v1/builds')).status).toBe(401);
    expect((await api.withToken('kiln_wrong_token_123456').call('GET', '/api/v1/sources')).status).toBe(401);
  });

  it('reports each service healthy with its dependencies', async () => {
    for (const [app, port] of Object.entries(stack.ports)) {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      const body = (await res.json()) as { service: string; status: string; checks: Record<string, { status: string }> };
      expect({ app, status: res.status, service: body.service, up: body.status }).toEqual({ app, status: 200, service: app, up: 'up' });
      expect(Object.keys(body.checks).length).toBeGreaterThan(0);
    }
  });

  async function waitForBuild(client: Api, ruleId: string, commit: string): Promise<BuildItem> {
    try {
      return await expectEventually(
        async () => {
          const page = await client.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${ruleId}`);
          const build = page.items.find((b) => b.commit === commit);
          if (!build) throw new Error(`no build of ${commit} yet`);
          if (build.status === 'failed') throw Object.assign(new Error(`build failed: ${JSON.stringify(build.failure)}`), { final: true });
          expect(build.status).toBe('succeeded');
          expect(build.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
          return build;
        },
        120_000,
        200,
      );
    } catch (err) {
      for (const app of Object.keys(stack.ports)) console.log(`--- ${app}\n${tail(`${stack.logDir}/${app}.log`, 15)}`);
      throw err;
    }
  }
});

function splitReference(reference: string): [string, string] {
  const i = reference.lastIndexOf(':');
  return [reference.slice(0, i), reference.slice(i + 1)];
}
