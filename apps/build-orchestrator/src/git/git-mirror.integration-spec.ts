import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HostPolicy } from '@kiln/platform';
import { checkoutFromMirror, MirrorSpec, mirrorPath, objectCount, releaseTree, sizeOf } from './git-mirror';

/**
 * The worker's mirrors and their working trees, against a real git server on loopback (the repository's own
 * `tools/git-http-server.js`): which files a new commit rewrites, who gets which tree.
 */
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=spec', '-c', 'user.email=spec@example.com', ...args], { cwd, encoding: 'utf8' }).trim();

let root: string;
let server: ChildProcess;
let url: string;
let work: string;

let umaskBefore: number;

beforeAll(async () => {
  // As Kiln's processes run (scripts/kiln: umask 077), before git's helper process starts and inherits it.
  umaskBefore = process.umask(0o077);
  root = mkdtempSync(join(tmpdir(), 'kiln-mirror-spec-'));
  const bare = join(root, 'repos', 'acme', 'app.git');
  mkdirSync(bare, { recursive: true });
  git(bare, 'init', '-q', '--bare', '-b', 'main');
  git(bare, 'config', 'http.receivepack', 'true');
  git(bare, 'config', 'uploadpack.allowFilter', 'true');
  server = spawn(process.execPath, [resolve(__dirname, '../../../../tools/git-http-server.js'), join(root, 'repos'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise<string>((ok, fail) => {
    server.once('exit', (code) => fail(new Error(`git server exited with ${code}`)));
    server.stdout?.once('data', (d: Buffer) => ok(/on (http:\/\/127\.0\.0\.1:\d+)\//.exec(d.toString())?.[1] ?? ''));
  });
  url = `${base}/acme/app.git`;
  work = join(root, 'work');
  git(root, 'clone', '-q', bare, work);
});

afterAll(() => {
  process.umask(umaskBefore);
  server?.kill();
  rmSync(root, { recursive: true, force: true });
});

/** Commits the files (null removes one) and pushes; returns the commit id. */
function commit(files: Record<string, string | null>): string {
  for (const [path, text] of Object.entries(files)) {
    if (text === null) git(work, 'rm', '-q', path);
    else {
      mkdirSync(join(work, path, '..'), { recursive: true });
      writeFileSync(join(work, path), text);
      git(work, 'add', path);
    }
  }
  git(work, 'commit', '-q', '-m', 'change');
  git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  return git(work, 'rev-parse', 'HEAD');
}

const spec = (buildId: string, commitId: string, notes: string[] = []): MirrorSpec => ({
  url,
  commit: commitId,
  ref: 'refs/heads/main',
  dir: join(root, 'builds', buildId),
  credentials: { username: null, secret: null, sshPrivateKey: null },
  hosts: new HostPolicy('127.0.0.1'),
  timeoutMs: 60_000,
  signal: new AbortController().signal,
  onOutput: () => undefined,
  sourceId: 'source-1',
  mirrorDir: join(root, 'mirrors'),
  budgetBytes: 1 << 30,
  onNote: (t) => notes.push(t),
  buildId,
});

describe('the mirror and its working trees', () => {
  it('checks the next commit out into the tree the last build gave back, rewriting only the files that changed', async () => {
    const first = commit({ 'same.txt': 'unchanged\n', 'changed.txt': 'one\n', 'gone/old.txt': 'removed later\n' });
    const a = await checkoutFromMirror(spec('build-a', first));
    expect(readFileSync(join(a.dir, 'changed.txt'), 'utf8')).toBe('one\n');
    expect(existsSync(join(a.dir, '.git'))).toBe(false);
    const before = statSync(join(a.dir, 'same.txt'));
    expect(releaseTree('build-a')).toBe(true);
    expect(releaseTree('build-a')).toBe(false);

    const second = commit({ 'changed.txt': 'two\n', 'gone/old.txt': null, 'new.txt': 'added\n' });
    const notes: string[] = [];
    const b = await checkoutFromMirror(spec('build-b', second, notes));
    expect(b.dir).toBe(a.dir);
    expect(notes).toContain(`mirror: fetched ${b.fetchedObjects} new objects from ${url}`);
    expect(b.fetchedObjects).toBeGreaterThan(0);
    expect(b.fetchedObjects).toBeLessThanOrEqual(5);
    // Counted in-process, as git counts them: loose objects (the small fetch just unpacked) and packed ones.
    const counted = git(root, '--git-dir', mirrorPath(join(root, 'mirrors'), 'source-1', url), 'count-objects', '-v');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(counted)?.[1]);
    expect(field('count')).toBeGreaterThan(0);
    expect(field('in-pack')).toBeGreaterThan(0);
    expect(await objectCount(mirrorPath(join(root, 'mirrors'), 'source-1', url))).toBe(field('count') + field('in-pack'));
    expect(readFileSync(join(b.dir, 'changed.txt'), 'utf8')).toBe('two\n');
    expect(readFileSync(join(b.dir, 'new.txt'), 'utf8')).toBe('added\n');
    expect(existsSync(join(b.dir, 'gone', 'old.txt'))).toBe(false);
    // The unchanged file was not written again: same inode, same modification time (what BuildKit compares).
    const after = statSync(join(b.dir, 'same.txt'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);

    // While build-b holds its tree, another build of the repository gets a tree of its own.
    const c = await checkoutFromMirror(spec('build-c', first));
    expect(c.dir).not.toBe(b.dir);
    expect(readFileSync(join(c.dir, 'changed.txt'), 'utf8')).toBe('one\n');
    expect(readFileSync(join(b.dir, 'changed.txt'), 'utf8')).toBe('two\n');
    releaseTree('build-b');
    releaseTree('build-c');
  }, 60_000);

  it('writes a tree whose index is gone from scratch: nothing left over from before reaches the build', async () => {
    const head = commit({ 'fresh.txt': 'fresh\n' });
    const a = await checkoutFromMirror(spec('build-d', head));
    releaseTree('build-d');
    rmSync(`${a.dir}.index`);
    writeFileSync(join(a.dir, 'stray.txt'), 'left over\n');
    const b = await checkoutFromMirror(spec('build-e', head));
    expect(b.dir).toBe(a.dir);
    expect(existsSync(join(b.dir, 'stray.txt'))).toBe(false);
    expect(readFileSync(join(b.dir, 'fresh.txt'), 'utf8')).toBe('fresh\n');
    releaseTree('build-e');
  }, 60_000);

  it('writes only the files BuildKit will read, and fetches large ones only when it reads them', async () => {
    const big = 'x'.repeat(200_000) + '\n';
    const head = commit({
      Dockerfile: 'FROM scratch\nCOPY . /\n',
      '.dockerignore': 'assets\n*.md\nDockerfile\n',
      'assets/big.bin': big,
      'README.md': 'readme\n',
      'src/a.txt': 'a\n',
      'src/notes.md': 'not at the top: sent\n',
    });
    const files = { contextDir: '.', dockerfilePath: 'Dockerfile' };
    const mirrorDir = join(root, 'sparse-mirrors');
    const notes: string[] = [];
    const a = await checkoutFromMirror({ ...spec('build-s1', head, notes), mirrorDir, buildFiles: files });
    const listing = (dir: string) => execFileSync('find', ['.', '-type', 'f'], { cwd: dir, encoding: 'utf8' }).trim().split('\n').sort();
    const tracked = git(work, 'ls-tree', '-r', '--name-only', head)
      .split('\n')
      .map((p) => `./${p}`);
    expect(listing(a.dir)).toEqual(tracked.filter((p) => p !== './assets/big.bin' && p !== './README.md').sort());
    expect(listing(a.dir)).toEqual(expect.arrayContaining(['./.dockerignore', './Dockerfile', './src/a.txt', './src/notes.md']));
    expect(notes).toContain('checking out the files the build reads: assets, *.md, Dockerfile left out (.dockerignore)');
    // The large excluded file was never downloaded (small files come with the first fetch, written or not).
    const mirror = mirrorPath(mirrorDir, 'source-1', url);
    const missing = () =>
      git(root, '--git-dir', mirror, 'rev-list', '--objects', '--no-walk', '--missing=print', head)
        .split('\n')
        .filter((l) => l.startsWith('?'))
        .map((l) => l.slice(1));
    const blob = (path: string) => git(work, 'rev-parse', `${head}:${path}`);
    expect(missing()).toEqual([blob('assets/big.bin')]);
    releaseTree('build-s1');

    // The ignore file changes: the asset is part of the build now, and the checkout fetches it.
    const next = commit({ '.dockerignore': '*.md\n' });
    const b = await checkoutFromMirror({ ...spec('build-s2', next), mirrorDir, buildFiles: files });
    expect(b.dir).toBe(a.dir);
    expect(readFileSync(join(b.dir, 'assets', 'big.bin'), 'utf8')).toBe(big);
    expect(existsSync(join(b.dir, 'README.md'))).toBe(false);
    releaseTree('build-s2');

    // Without the build's files (or with an ignore file Kiln does not read itself), the whole tree, as before.
    const c = await checkoutFromMirror({ ...spec('build-s3', next), mirrorDir });
    expect(readFileSync(join(c.dir, 'README.md'), 'utf8')).toBe('readme\n');
    releaseTree('build-s3');
    const unsure = commit({ '.dockerignore': '*.md\n!README.md\n' });
    const d = await checkoutFromMirror({ ...spec('build-s4', unsure), mirrorDir, buildFiles: files });
    expect(listing(d.dir)).toContain('./README.md');
    releaseTree('build-s4');
  }, 60_000);

  it('asks a server that refuses bare commits for the branch instead, and says when the branch no longer holds the commit', async () => {
    // A server that serves only what it advertises (protocol v0 without uploadpack.allow*SHA1InWant), and a commit
    // that is not a branch tip: the bare-commit fetch is refused, the branch holds it.
    const bare = join(root, 'repos', 'acme', 'strict.git');
    mkdirSync(bare, { recursive: true });
    git(bare, 'init', '-q', '--bare', '-b', 'main');
    const strictWork = join(root, 'strict-work');
    git(root, 'clone', '-q', bare, strictWork);
    const commitThere = (name: string) => {
      writeFileSync(join(strictWork, name), `${name}\n`);
      git(strictWork, 'add', name);
      git(strictWork, 'commit', '-q', '-m', name);
      return git(strictWork, 'rev-parse', 'HEAD');
    };
    const older = commitThere('one.txt');
    commitThere('two.txt');
    git(strictWork, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
    const home = mkdtempSync(join(tmpdir(), 'kiln-mirror-home-'));
    writeFileSync(join(home, '.gitconfig'), '[protocol]\n\tversion = 0\n');
    const realHome = process.env.HOME;
    process.env.HOME = home;
    try {
      const strict = (buildId: string, commitId: string) => ({ ...spec(buildId, commitId), url: url.replace('/app.git', '/strict.git'), mirrorDir: join(root, 'strict-mirrors') });
      const built = await checkoutFromMirror(strict('build-v0', older));
      expect(readFileSync(join(built.dir, 'one.txt'), 'utf8')).toBe('one.txt\n');
      expect(existsSync(join(built.dir, 'two.txt'))).toBe(false);
      releaseTree('build-v0');
      // Force-pushed away: neither the commit nor the branch has it.
      const gone = 'e'.repeat(40);
      await expect(checkoutFromMirror(strict('build-v0-gone', gone))).rejects.toThrow(`commit ${gone} is not on`);
    } finally {
      process.env.HOME = realHome;
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);

  it('gives the tree back when the checkout fails', async () => {
    await expect(checkoutFromMirror(spec('build-f', 'f'.repeat(40)))).rejects.toThrow(/is not on/);
    expect(releaseTree('build-f')).toBe(false);
  }, 60_000);

  it('keeps the mirrors within their budget: the least recently used go first, never one a build holds or the one just used', async () => {
    const head = commit({ 'budget.txt': 'one mirror per source\n' });
    const dir = join(root, 'budget');
    const inDir = (buildId: string, sourceId: string, budgetBytes: number, notes: string[] = []) => ({ ...spec(buildId, head, notes), sourceId, mirrorDir: dir, budgetBytes });
    const bytesOf = async (sourceId: string) => {
      const path = mirrorPath(dir, sourceId, url);
      return (await sizeOf(path)) + (await sizeOf(path.replace(/\.git$/, '.trees')));
    };
    const pause = () => new Promise((r) => setTimeout(r, 20));
    // Oldest first: "held" (its build keeps the tree), then "old" and "newer" (given back).
    await checkoutFromMirror(inDir('held-build', 'held', 1 << 30));
    await pause();
    await checkoutFromMirror(inDir('old-build', 'old', 1 << 30));
    releaseTree('old-build');
    await pause();
    await checkoutFromMirror(inDir('newer-build', 'newer', 1 << 30));
    releaseTree('newer-build');
    await pause();
    const one = await bytesOf('old');
    // Room for about three of the four: the least recently used that no build holds ("old") goes.
    const notes: string[] = [];
    await checkoutFromMirror(inDir('last-build', 'last', Math.floor(3.5 * one), notes));
    const present = (sourceId: string) => existsSync(mirrorPath(dir, sourceId, url));
    expect(['held', 'old', 'newer', 'last'].map(present)).toEqual([true, false, true, true]);
    expect(existsSync(mirrorPath(dir, 'old', url).replace(/\.git$/, '.trees'))).toBe(false);
    expect(notes.filter((n) => n.startsWith('mirror budget: evicted'))).toHaveLength(1);
    releaseTree('last-build');
    // A budget below one mirror: every mirror goes but the one just used and the one whose tree is held.
    await checkoutFromMirror(inDir('tiny-build', 'newer', 1));
    expect(['held', 'newer', 'last'].map(present)).toEqual([true, true, false]);
    releaseTree('tiny-build');
    releaseTree('held-build');
  }, 60_000);

  it('writes the tree as a clone under umask 022 would, whatever the worker runs under: BuildKit copies these modes into images', async () => {
    const head = commit({ 'modes/plain.txt': 'read by anyone\n', 'modes/nested/deeper.txt': 'also\n', 'modes/run.sh': '#!/bin/sh\necho hi\n' });
    chmodSync(join(work, 'modes', 'run.sh'), 0o755);
    git(work, 'update-index', '--chmod=+x', 'modes/run.sh');
    git(work, 'commit', '-q', '-m', 'executable');
    git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
    const withExec = git(work, 'rev-parse', 'HEAD');
    expect(withExec).not.toBe(head);
    const tree = await checkoutFromMirror(spec('build-modes', withExec));
    const mode = (p: string) => (statSync(join(tree.dir, p)).mode & 0o777).toString(8);
    expect([mode('.'), mode('modes'), mode('modes/nested'), mode('modes/plain.txt'), mode('modes/nested/deeper.txt'), mode('modes/run.sh')]).toEqual(['755', '755', '755', '644', '644', '755']);
    releaseTree('build-modes');
  }, 60_000);
});
