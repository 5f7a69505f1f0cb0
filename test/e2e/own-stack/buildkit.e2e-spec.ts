import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from '../support/api';
import { onStack } from '../support/on-stack';
import { expectEventually } from '../support/expect-eventually';
import { GitFixture } from '../support/git-fixture';
import { ImageIndex, manifestDigest, pullAndRun, readBlob, readImage, readManifest } from '../support/registry';
import { Scenario } from '../support/scenario';
import { buildNow, Buildkitd, startBuildkitd, workflowEnded } from '../support/builds';
import { services, Stack, startStack } from '../support/stack';

jest.setTimeout(300_000);
const execFileAsync = promisify(execFile);

interface Line {
  text: string;
  attempt: number;
}

/**
 * A Dockerfile that only BuildKit builds: parallel stages, a cache mount, a heredoc, a stage chosen by --target. The
 * run's own id in the slow steps keeps an earlier run's layer cache from answering for them.
 */
const dockerfile = (run: string) => `FROM kiln/busybox:local AS base

FROM base AS slow-a
RUN sleep 2 && date +%s > /a # ${run}

FROM base AS slow-b
RUN sleep 2 && date +%s > /b # ${run}

FROM base AS deps
COPY stamp /stamp
RUN --mount=type=cache,target=/cache <<EOF
if [ -f /cache/seen ]; then echo "cache mount kept $(cat /cache/seen)"; else echo "cache mount empty"; fi
cat /stamp > /cache/seen
EOF

FROM base AS final
COPY --from=slow-a /a /a
COPY --from=slow-b /b /b
COPY --from=deps /stamp /stamp
RUN echo "a=$(cat /a) b=$(cat /b)"

FROM base AS not-this-one
RUN echo "the last stage, which --target skips" && exit 9
`;

describe('BuildKit: what docker buildx build builds, and caches that survive', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  onStack(
    // Builds started by "build now": no webhook-ingest.
    () => startStack(19980, { apps: ['gateway', 'rules-service', 'log-service', 'build-orchestrator'] }),
    (t) => ({ stack, git, api } = t),
  );

  const build = (ruleId: string) => buildNow(api, ruleId);
  const instructions = async (id: string) =>
    (
      await api.ok<{ instructions: Array<{ vertex: number; name: string; status: string; startedAt: string | null; finishedAt: string | null; durationMs: number | null }> }>(
        'GET',
        `/api/v1/builds/${id}`,
      )
    ).instructions;
  const logs = async (id: string) => (await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${id}/logs?step=build&limit=5000`)).items.map((l) => l.text);

  it('builds parallel stages, a cache mount and a heredoc up to the --target stage; a rebuild is CACHED; the cache mount persists', async () => {
    const s = await Scenario.create(api, git, `acme/bk-${run}`);
    s.repo.commit({ Dockerfile: dockerfile(run), stamp: `first-${run}\n` }, 'buildkit features');
    s.repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string; target: string }>('POST', '/api/v1/namespaces/bk/repositories/features/build-rules', {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
      target: 'final',
    });
    expect(rule.target).toBe('final');
    const first = await build(rule.id);
    expect(first.failure).toBeNull();
    const text = await logs(first.id);
    expect(text).toContain('target stage: final');
    expect(text).toContain('cache mount empty');
    expect(text.some((t) => t.includes('the last stage, which --target skips'))).toBe(false);
    // The two slow stages ran side by side: they finished within a second of each other, not two apart.
    const ab = text.find((t) => t.startsWith('a='));
    const [a, b] = /a=(\d+) b=(\d+)/
      .exec(ab ?? '')
      ?.slice(1)
      .map(Number) ?? [0, 99];
    expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    // The build record has each instruction as BuildKit ran it, numbered as in the log; the skipped stage has none.
    const ran = await instructions(first.id);
    const slowA = ran.find((i) => i.name.includes('RUN sleep 2 && date +%s > /a'));
    expect(slowA).toMatchObject({ name: expect.stringMatching(/^\[slow-a \d+\/\d+\] RUN/), status: 'succeeded' });
    expect(slowA?.durationMs).toBeGreaterThanOrEqual(1500);
    expect(text).toContain(`#${slowA?.vertex} ${slowA?.name}`);
    expect(ran.filter((i) => i.name.includes(' RUN ')).map((i) => i.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(ran.some((i) => i.name.includes('not-this-one'))).toBe(false);

    // The same commit again: every step is CACHED and nothing runs.
    const again = await build(rule.id);
    const againText = await logs(again.id);
    expect(again.status).toBe('succeeded');
    expect(againText.filter((t) => /^#\d+ CACHED$/.test(t)).length).toBeGreaterThanOrEqual(4);
    expect(againText.some((t) => t.startsWith('a='))).toBe(false);
    const cached = (await instructions(again.id)).filter((i) => i.name.includes(' RUN '));
    expect(cached.map((i) => [i.status, i.durationMs])).toEqual([
      ['cached', null],
      ['cached', null],
      ['cached', null],
      ['cached', null],
    ]);

    // A new commit runs the cache-mount step again, and finds what the previous build left in the mount.
    s.repo.commit({ stamp: `second-${run}\n` }, 'new stamp');
    s.repo.push('refs/heads/main');
    const third = await build(rule.id);
    expect(await logs(third.id)).toContain(`cache mount kept first-${run}`);
    expect(await pullAndRun(third.tags[0], ['cat', '/stamp'])).toBe(`second-${run}\n`);
  });

  it('refuses a stage or platform outside the grammar, and changes nothing', async () => {
    const s = await Scenario.create(api, git, `acme/bk-bad-${run}`);
    for (const [extra, field] of [
      [{ target: 'has space' }, 'target'],
      [{ platforms: ['windows/amd64'] }, 'platforms'],
      [{ platforms: ['linux/arm64', 'linux/arm64'] }, 'platforms'],
    ] as const) {
      const res = await api.call('POST', '/api/v1/namespaces/bk/repositories/bad/build-rules', {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
        ...extra,
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain(field);
    }
    expect((await api.ok<{ items: unknown[] }>('GET', '/api/v1/namespaces/bk/repositories/bad/build-rules')).items).toEqual([]);
  });

  it('builds two platforms into one index, running the arm64 steps under emulation; pushes provenance with it', async () => {
    // A static program per architecture (Go cross-compiles): the RUN step executes it, natively or under QEMU.
    const bin = mkdtempSync(join(tmpdir(), 'kiln-uname-'));
    writeFileSync(join(bin, 'go.mod'), 'module uname\n\ngo 1.21\n');
    writeFileSync(
      join(bin, 'main.go'),
      'package main\n\nimport (\n\t"os"\n\t"runtime"\n\t"syscall"\n)\n\nfunc main() {\n\tvar u syscall.Utsname\n\t_ = syscall.Uname(&u)\n\tm := ""\n\tfor _, c := range u.Machine {\n\t\tif c == 0 {\n\t\t\tbreak\n\t\t}\n\t\tm += string(rune(c))\n\t}\n\t_ = os.WriteFile("/out.txt", []byte(runtime.GOARCH+" on "+m+"\\n"), 0o644)\n}\n',
    );
    const s = await Scenario.create(api, git, `acme/bk-multi-${run}`);
    const files: Record<string, string | Buffer> = { Dockerfile: 'FROM scratch\nARG TARGETARCH\nCOPY --chmod=755 uname-${TARGETARCH} /uname\nRUN ["/uname"]\n' };
    for (const arch of ['amd64', 'arm64']) {
      // Asynchronously: a blocked event loop would leave the API client a keep-alive socket the gateway has closed.
      await execFileAsync('go', ['build', '-o', join(bin, `uname-${arch}`), '.'], { cwd: bin, env: { ...process.env, GOOS: 'linux', GOARCH: arch, CGO_ENABLED: '0' } });
      files[`uname-${arch}`] = readFileSync(join(bin, `uname-${arch}`));
    }
    s.repo.commit(files, 'two platforms');
    s.repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/bk/repositories/multi/build-rules', {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
      platforms: ['linux/amd64', 'linux/arm64'],
    });
    const b = await build(rule.id);
    expect(b.failure).toBeNull();
    const tag = b.tags[0].split(':').pop() as string;
    const index = (await readManifest('bk/multi', tag)) as ImageIndex;
    const platforms = index.manifests.filter((m) => m.platform?.os === 'linux').map((m) => m.platform?.architecture);
    expect(platforms.sort()).toEqual(['amd64', 'arm64']);
    // The build record keeps the index digest and each platform's.
    expect(b.digest).toBe((await manifestDigest('bk/multi', tag)) as string);
    const images = index.manifests.filter((m) => m.platform?.os === 'linux').map((m) => ({ platform: `linux/${m.platform?.architecture}`, digest: m.digest }));
    await expectEventually(async () => expect((await api.ok<{ images: unknown[] }>('GET', `/api/v1/builds/${b.id}`)).images).toEqual(images));
    for (const [arch, machine] of [
      ['amd64', 'x86_64'],
      ['arm64', 'aarch64'],
    ]) {
      const image = await readImage('bk/multi', tag, services.registry, arch);
      expect(JSON.parse(image.config).architecture).toBe(arch);
      expect(image.layers.some((l) => l.includes(`${arch} on ${machine}\n`))).toBe(true);
    }
    // BuildKit's SLSA provenance is pushed in the same index, as an attestation manifest.
    const attestation = index.manifests.find((m) => m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest');
    expect(attestation).toBeDefined();
    const statement = (await readManifest('bk/multi', attestation?.digest as string)) as { layers: Array<{ digest: string; annotations?: Record<string, string> }> };
    const provenance = statement.layers.find((l) => l.annotations?.['in-toto.io/predicate-type']?.includes('slsa.dev/provenance'));
    expect(provenance).toBeDefined();
    expect(JSON.parse((await readBlob('bk/multi', provenance?.digest as string)).toString('utf8')).predicateType).toContain('slsa.dev/provenance');
  });

  it("keeps a git mirror per repository: the first build fetches its commit's objects alone, a new commit only its own; a damaged mirror is rebuilt", async () => {
    const s = await Scenario.create(api, git, `acme/bk-mirror-${run}`);
    for (let i = 0; i < 20; i++) s.repo.commit({ [`src/file-${i}.txt`]: `content ${i} ${run}\n`, Dockerfile: 'FROM kiln/busybox:local\nCOPY . /src\n' }, `history ${i}`);
    s.repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/bk/repositories/mirror/build-rules', {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    const cloneLog = async (id: string) => (await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${id}/logs?step=clone&limit=1000`)).items.map((l) => l.text);
    const fetched = (lines: string[]) => Number(/mirror: fetched (\d+) new objects/.exec(lines.join('\n'))?.[1] ?? -1);

    // The commit, its trees and its files: none of the 19 earlier commits, nor their trees and files.
    const headObjects = () => execFileSync('git', ['-C', s.repo.work, 'ls-tree', '-r', '-t', 'HEAD'], { encoding: 'utf8' }).trim().split('\n').length + 2;
    expect(headObjects()).toBe(1 + 2 + 21);
    const first = await build(rule.id);
    expect(first.status).toBe('succeeded');
    expect(fetched(await cloneLog(first.id))).toBe(headObjects());

    // One changed file at the top: the commit, its tree and the blob, and nothing else.
    s.repo.commit({ 'top.txt': `one change ${run}\n` }, 'one change');
    s.repo.push('refs/heads/main');
    const second = await build(rule.id);
    expect(second.status).toBe('succeeded');
    expect(fetched(await cloneLog(second.id))).toBe(3);
    expect(await pullAndRun(second.tags[0], ['cat', '/src/top.txt'])).toBe(`one change ${run}\n`);
    // The build context is the tree alone.
    expect(await pullAndRun(second.tags[0], ['sh', '-c', 'ls -a /src | grep -c "^.git$" || true'])).toBe('0\n');

    // The same commit again fetches nothing.
    expect((await cloneLog((await build(rule.id)).id)).some((t) => t.includes('is already in the mirror'))).toBe(true);

    // A damaged mirror (its HEAD overwritten, its packs gone) is rebuilt, and the build succeeds.
    const mirror = join(stack.env.KILN_MIRROR_DIR as string, `${createHash('sha256').update(`${s.source.id}\n${git.baseUrl}/${s.repo.fullName}.git`).digest('hex').slice(0, 32)}.git`);
    writeFileSync(join(mirror, 'HEAD'), 'garbage\n');
    rmSync(join(mirror, 'objects'), { recursive: true, force: true });
    s.repo.commit({ 'top.txt': `after damage ${run}\n` }, 'after damage');
    s.repo.push('refs/heads/main');
    const recovered = await build(rule.id);
    expect(recovered.status).toBe('succeeded');
    const lines = await cloneLog(recovered.id);
    expect(lines.some((t) => t.includes('is damaged') && t.includes('rebuilding it'))).toBe(true);
    expect(fetched(lines)).toBe(headObjects());
    expect(recovered.steps.filter((x) => x.name === 'clone')).toHaveLength(1);
    expect(await pullAndRun(recovered.tags[0], ['cat', '/src/top.txt'])).toBe(`after damage ${run}\n`);
  });

  it('sends BuildKit the context that .dockerignore leaves, with the modes a clone has, and checks nothing else out', async () => {
    const s = await Scenario.create(api, git, `acme/bk-ignore-${run}`);
    s.repo.commit(
      {
        Dockerfile: 'FROM kiln/busybox:local\nCOPY . /ctx\n',
        '.dockerignore': '# what docker build leaves out\ndocs\n**/*.log\n*/tmp\n?.txt\nDockerfile\n',
        'docs/guide.md': 'guide\n',
        'a.txt': 'a\n',
        'ab.txt': 'ab\n',
        'top.log': 'log\n',
        'src/main.c': 'int main;\n',
        'src/debug.log': 'log\n',
        'src/tmp/scratch': 'scratch\n',
        'src/deep/tmp/kept': 'kept\n',
        'src/docs/kept.md': 'kept\n',
      },
      'an ignore file',
    );
    s.repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/bk/repositories/ignore/build-rules', {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    const b = await build(rule.id);
    expect(b.failure).toBeNull();
    // Exactly what `docker buildx build` sends for this ignore file (its documented matching), nothing less.
    expect(await pullAndRun(b.tags[0], ['sh', '-c', 'cd /ctx && find . -type f | sort'])).toBe('./.dockerignore\n./ab.txt\n./src/deep/tmp/kept\n./src/docs/kept.md\n./src/main.c\n');
    // With the modes a clone has under umask 022, as docker build sends them, though Kiln runs under umask 077: a
    // non-root USER can read what COPY put in the image.
    expect(await pullAndRun(b.tags[0], ['sh', '-c', 'stat -c "%a %n" /ctx/src /ctx/src/deep/tmp /ctx/ab.txt /ctx/src/main.c'])).toBe(
      '755 /ctx/src\n755 /ctx/src/deep/tmp\n644 /ctx/ab.txt\n644 /ctx/src/main.c\n',
    );
    const lines = (await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${b.id}/logs?step=clone&limit=1000`)).items.map((l) => l.text);
    expect(lines).toContain('checking out the files the build reads: docs, **/*.log, */tmp, ?.txt, Dockerfile left out (.dockerignore)');
  });

  /** Restart the stack's worker on an engine, as another worker (its own id and task queue). */
  const workerOn = async (address: string, id: string) => {
    await stack.stopApp('build-orchestrator');
    stack.env.KILN_BUILDKIT_ADDR = address;
    stack.env.KILN_WORKER_ID = id;
    await stack.startApp('build-orchestrator');
  };

  describe('a worker whose machine cannot emulate a platform', () => {
    let daemon: Buildkitd;

    beforeAll(async () => {
      // This worker's machine has no riscv64 emulator when its BuildKit starts (BuildKit reads them at start-up).
      execFileSync('update-binfmts', ['--disable', 'qemu-riscv64'], { stdio: 'ignore' });
      daemon = await startBuildkitd();
      await workerOn(daemon.address, `noemu-${process.pid}`);
    });

    afterAll(async () => {
      execFileSync('update-binfmts', ['--enable', 'qemu-riscv64'], { stdio: 'ignore' });
      await workerOn(services.buildkit, `e2e-${process.pid}`);
      await daemon?.stop();
    });

    it('fails a build for that platform as PlatformUnsupported, once, saying how to fix it', async () => {
      const s = await Scenario.create(api, git, `acme/bk-noemu-${run}`);
      s.repo.commit({ Dockerfile: 'FROM kiln/busybox:local\nRUN uname -m\n' }, 'riscv');
      s.repo.push('refs/heads/main');
      const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/bk/repositories/noemu/build-rules', {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
        platforms: ['linux/amd64', 'linux/riscv64'],
      });
      const b = await build(rule.id);
      expect(b.failure).toMatchObject({ type: 'PlatformUnsupported', message: expect.stringContaining('linux/riscv64'), hint: expect.stringContaining('qemu-user-static') });
      expect(b.steps.filter((x) => x.name === 'build')).toHaveLength(1);
    });
  });

  describe('a second worker with an empty BuildKit', () => {
    let daemon: Buildkitd;

    beforeAll(async () => {
      daemon = await startBuildkitd();
    });

    afterAll(async () => {
      await workerOn(services.buildkit, `e2e-${process.pid}`);
      await daemon?.stop();
    });

    it("reuses the first worker's layers through the registry cache: the slow step is CACHED", async () => {
      const s = await Scenario.create(api, git, `acme/bk-cache-${run}`);
      s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nCOPY stamp /stamp\nRUN echo "slow step ran ${run}" && sleep 2\n`, stamp: `x-${run}\n` }, 'cached');
      s.repo.push('refs/heads/main');
      const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/bk/repositories/cache/build-rules', {
        sourceId: s.source.id,
        repository: s.repo.fullName,
        trigger: { type: 'branch', branch: 'main' },
      });
      // Built first by the first worker, which exports the layer cache to the registry.
      const first = await build(rule.id);
      expect(first.status).toBe('succeeded');
      expect(await logs(first.id)).toContain(`slow step ran ${run}`);
      // The export runs once the build is reported done; restarting the worker before it ends would stop it.
      await workflowEnded(first);
      // Then by a second worker whose engine has never seen the repository.
      await workerOn(daemon.address, `second-${process.pid}`);
      const b = await build(rule.id);
      expect(b.status).toBe('succeeded');
      const text = await logs(b.id);
      expect(text.some((t) => t.includes('importing cache manifest from'))).toBe(true);
      expect(text).not.toContain(`slow step ran ${run}`);
      expect(text.filter((t) => /^#\d+ CACHED$/.test(t)).length).toBeGreaterThanOrEqual(2);
    });
  });
});
