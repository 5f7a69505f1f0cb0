import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveRemoteRef } from './git';
import { advertisedRefs, parseAdvertisement } from './git-refs-http';

/**
 * Resolving a branch or tag for "build now" against a real smart-HTTP git server on loopback (`git http-backend`
 * behind the repository's `tools/git-http-server.js`, with basic auth): the same answers as `git ls-remote`, from
 * one GET and no git process, and git's own errors wherever the server does not simply answer.
 */
const { startGitServer } = require(resolve(__dirname, '../../../../tools/git-http-server.js')) as {
  startGitServer(o: { root: string; port?: number; auth?: string | null }): Promise<Server>;
};
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=spec', '-c', 'user.email=spec@example.com', ...args], { cwd, encoding: 'utf8' }).trim();

const creds = { username: 'kiln', secret: 's3cret' };
let root: string;
let server: Server;
let base: string;
const requests: string[] = [];
let main: string;
let tagObject: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'kiln-refs-spec-'));
  const bare = join(root, 'repos', 'app.git');
  mkdirSync(bare, { recursive: true });
  git(bare, 'init', '-q', '--bare', '-b', 'main');
  git(join(root, 'repos'), 'init', '-q', '--bare', '-b', 'main', 'empty.git');
  const work = join(root, 'work');
  git(root, 'clone', '-q', bare, work);
  git(work, 'commit', '-q', '--allow-empty', '-m', 'one');
  git(work, 'tag', '-a', 'v1', '-m', 'annotated');
  git(work, 'tag', 'light');
  git(work, 'commit', '-q', '--allow-empty', '-m', 'two');
  git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main', 'HEAD:refs/heads/feature/x', 'v1', 'light');
  main = git(work, 'rev-parse', 'HEAD');
  tagObject = git(work, 'rev-parse', 'v1');
  server = await startGitServer({ root: join(root, 'repos'), port: 0, auth: `${creds.username}:${creds.secret}` });
  server.on('request', (req) => requests.push(`${req.method} ${req.url}`));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server?.close();
  server?.closeAllConnections();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  requests.length = 0;
});

it('resolves branches and tags as git ls-remote does, with one GET and no git process', async () => {
  const url = `${base}/app.git`;
  const one = git(root, '-C', join(root, 'work'), 'rev-parse', 'HEAD~1');
  expect(await resolveRemoteRef(url, 'refs/heads/main', creds)).toBe(main);
  expect(await resolveRemoteRef(url, 'refs/heads/feature/x', creds)).toBe(main);
  // An annotated tag is peeled to its commit; a lightweight one is the commit already.
  expect(await resolveRemoteRef(url, 'refs/tags/v1', creds)).toBe(one);
  expect(await resolveRemoteRef(url, 'refs/tags/light', creds)).toBe(one);
  expect(await resolveRemoteRef(url, 'refs/heads/nope', creds)).toBeNull();
  // Not a tail match: `main` alone names no ref.
  expect(await resolveRemoteRef(url, 'main', creds)).toBeNull();
  expect(requests).toEqual(Array(6).fill('GET /app.git/info/refs?service=git-upload-pack'));
  const refs = await advertisedRefs(url, creds, 5000);
  expect(refs?.get('refs/tags/v1')).toBe(tagObject);
  expect(refs?.get('refs/tags/v1^{}')).toBe(one);
});

it('an empty repository has no refs', async () => {
  expect(await resolveRemoteRef(`${base}/empty.git`, 'refs/heads/main', creds)).toBeNull();
  expect(requests).toEqual(['GET /empty.git/info/refs?service=git-upload-pack']);
});

it('leaves refusals to git, whose message says why (wrong credentials, no such repository, no server)', async () => {
  await expect(resolveRemoteRef(`${base}/app.git`, 'refs/heads/main', { username: 'kiln', secret: 'wrong' })).rejects.toMatchObject({ type: 'SourceAuthFailed' });
  // git asked again after the in-process GET was refused: more than the one request.
  expect(requests.length).toBeGreaterThan(1);
  await expect(resolveRemoteRef(`${base}/missing.git`, 'refs/heads/main', creds)).rejects.toMatchObject({ type: 'RepositoryNotFound' });
  // No server at all (its kept-alive connections closed with it).
  server.close();
  server.closeAllConnections();
  try {
    await expect(resolveRemoteRef(`${base}/app.git`, 'refs/heads/main', creds, 5000)).rejects.toMatchObject({ type: 'GitUnavailable' });
  } finally {
    server = await startGitServer({ root: join(root, 'repos'), port: Number(new URL(base).port), auth: `${creds.username}:${creds.secret}` });
    server.on('request', (req) => requests.push(`${req.method} ${req.url}`));
  }
});

it('takes no shortcut through a proxy, a URL with credentials or a non-HTTP URL', async () => {
  const saved = process.env.https_proxy;
  process.env.https_proxy = 'http://127.0.0.1:9';
  try {
    expect(await advertisedRefs(`${base}/app.git`, creds, 5000)).toBeNull();
  } finally {
    if (saved === undefined) delete process.env.https_proxy;
    else process.env.https_proxy = saved;
  }
  expect(await advertisedRefs(`http://kiln:s3cret@${base.slice('http://'.length)}/app.git`, creds, 5000)).toBeNull();
  expect(await advertisedRefs(`ssh://git@127.0.0.1/app.git`, creds, 5000)).toBeNull();
  expect(requests).toEqual([]);
});

it('parses only a v0 upload-pack advertisement', () => {
  const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;
  const id = 'a'.repeat(40);
  const good = Buffer.from(pkt('# service=git-upload-pack\n') + '0000' + pkt(`${id} HEAD\0side-band-64k symref=HEAD:refs/heads/main\n`) + pkt(`${id} refs/heads/main\n`) + '0000');
  expect([...(parseAdvertisement(good) ?? [])]).toEqual([
    ['HEAD', id],
    ['refs/heads/main', id],
  ]);
  expect(parseAdvertisement(good.subarray(0, good.length - 2))).toBeNull();
  expect(parseAdvertisement(Buffer.from(pkt('# service=git-upload-pack\n') + '0000' + pkt('version 2\n') + '0000'))).toBeNull();
  expect(parseAdvertisement(Buffer.from(`${id}\trefs/heads/main\n`))).toBeNull();
});
