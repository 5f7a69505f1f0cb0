import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './stack';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Ada Lovelace',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Ada Lovelace',
  GIT_COMMITTER_EMAIL: 'ada@example.com',
  GIT_TERMINAL_PROMPT: '0',
};

export interface CommitInfo {
  sha: string;
  treeSha: string;
  message: string;
  authorName: string;
  authorEmail: string;
  timestamp: string;
}

/** Bare repositories served over smart HTTP on loopback, and a working clone that commits and pushes for real. */
export class GitFixture {
  private constructor(
    readonly root: string,
    private readonly server: ChildProcess,
    readonly baseUrl: string,
  ) {}

  /**
   * The server runs in its own process: the tests drive git synchronously, which would block a server living
   * in the test's own event loop.
   */
  static async start(auth: string | null = null): Promise<GitFixture> {
    const root = mkdtempSync(join(tmpdir(), 'kiln-git-'));
    mkdirSync(join(root, 'repos'));
    const script = join(ROOT, 'tools', 'git-http-server.js');
    const server = spawn(process.execPath, [script, join(root, 'repos'), '0', ...(auth ? [auth] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    const baseUrl = await new Promise<string>((ok, fail) => {
      server.once('exit', (code) => fail(new Error(`git server exited with ${code}`)));
      server.stdout?.once('data', (d: Buffer) => {
        const m = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(d.toString());
        if (m) ok(m[1]);
        else fail(new Error(`unexpected git server output: ${d.toString()}`));
      });
    });
    return new GitFixture(root, server, baseUrl);
  }

  async stop(): Promise<void> {
    if (this.server.exitCode !== null) return;
    const exited = new Promise((r) => this.server.once('exit', r));
    this.server.kill();
    await exited;
  }

  /** The same bare repository over SSH, through the project's sshd on loopback (`scripts/kiln sshd`). */
  sshUrl(fullName: string): string {
    return `ssh://${userInfo().username}@127.0.0.1:${process.env.KILN_TEST_SSHD_PORT ?? 2222}${join(this.root, 'repos', `${fullName}.git`)}`;
  }

  /** `owner/name` → a bare repo that accepts pushes and serves any commit by SHA (as GitHub does). */
  createRepo(fullName: string): GitRepo {
    const bare = join(this.root, 'repos', `${fullName}.git`);
    mkdirSync(dirname(bare), { recursive: true });
    git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    // Pushes over HTTP, any commit by SHA, and as GitHub and GitLab, partial clones (the build workers' mirrors fetch
    // file contents as checkouts need them). Written in one go: a git process each costs the suite CPU it waits for.
    appendFileSync(join(bare, 'config'), '[http]\n\treceivepack = true\n[uploadpack]\n\tallowAnySHA1InWant = true\n\tallowFilter = true\n');
    const work = join(this.root, 'work', fullName);
    mkdirSync(work, { recursive: true });
    git(['init', '--quiet', '--initial-branch=main', work]);
    return new GitRepo(fullName, work, `${this.baseUrl}/${fullName}.git`, bare);
  }
}

export class GitRepo {
  constructor(
    readonly fullName: string,
    readonly work: string,
    readonly url: string,
    /** The server's bare repository, on this machine's disk. */
    readonly bare: string,
  ) {}

  /** Write files and commit them on the current branch. */
  /** Writes the files (text, or bytes as a Buffer) and commits them. */
  commit(files: Record<string, string | Buffer>, message: string): CommitInfo {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), content);
    }
    git(['-C', this.work, 'add', '-A']);
    git(['-C', this.work, 'commit', '--quiet', '-m', message]);
    return this.info('HEAD');
  }

  checkout(branch: string, create = false): void {
    git(['-C', this.work, 'checkout', '--quiet', ...(create ? ['-b'] : []), branch]);
  }

  /**
   * A real `git push`; returns the remote ref's SHA before and after, as a host's webhook reports them. It pushes to
   * the server's bare repository by its path: what Kiln then fetches over HTTP is the same, and a push over HTTP
   * cost the suite a git client, the test server and git http-backend each time.
   */
  push(ref: string): { before: string; after: string } {
    const before = this.remoteSha(ref);
    git(['-C', this.work, 'push', '--quiet', this.bare, `${ref}:${ref}`]);
    return { before, after: this.remoteSha(ref) };
  }

  /** Delete a ref on the server, as `git push <url> :<ref>` does. */
  deleteRemote(ref: string): { before: string; after: string } {
    const before = this.remoteSha(ref);
    git(['-C', this.work, 'push', '--quiet', this.bare, `:${ref}`]);
    return { before, after: this.remoteSha(ref) };
  }

  tag(name: string, annotatedMessage?: string): void {
    git(['-C', this.work, 'tag', ...(annotatedMessage ? ['-a', '-m', annotatedMessage] : []), name]);
  }

  /**
   * The SHA the server holds for the full ref `refs/...` (what `git ls-remote` would print first), read from its bare
   * repository's files as git keeps them (gitrepository-layout(5)): the loose ref, else its line in packed-refs. A git
   * process for each look-up cost the suite more than the look-up.
   */
  remoteSha(ref: string): string {
    if (!ref.startsWith('refs/')) throw new Error(`remoteSha takes a full ref (refs/heads/..., refs/tags/...), not ${ref}`);
    const loose = readIfExists(join(this.bare, ref));
    if (loose) return loose.trim();
    const packed = (readIfExists(join(this.bare, 'packed-refs')) ?? '').split('\n').find((line) => line.endsWith(` ${ref}`));
    return packed?.split(' ')[0] ?? '0'.repeat(40);
  }

  info(rev: string): CommitInfo {
    const out = git(['-C', this.work, 'log', '-1', '--format=%H%n%T%n%an%n%ae%n%aI%n%B', rev]);
    const [sha, treeSha, authorName, authorEmail, timestamp, ...message] = out.replace(/\n+$/, '').split('\n');
    return { sha, treeSha, message: message.join('\n'), authorName, authorEmail, timestamp };
  }
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

export function git(args: string[]): string {
  return execFileSync('git', args, { env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function writeText(path: string, content: string): void {
  writeFileSync(path, content);
}

/** A new ed25519 key pair made by ssh-keygen. */
export function sshKeyPair(comment: string): { privateKey: string; publicKey: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', join(dir, 'key')]);
    return { privateKey: readFileSync(join(dir, 'key'), 'utf8'), publicKey: readFileSync(join(dir, 'key.pub'), 'utf8').trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Let a public key log in to the test sshd, for git only (git-shell), without forwarding or a terminal. */
export function authorizeSshKey(publicKey: string): void {
  const state = process.env.KILN_TEST_STATE ?? join(process.env.HOME ?? '/root', '.kiln');
  appendFileSync(join(state, 'sshd', 'authorized_keys'), `command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty ${publicKey}\n`);
}
