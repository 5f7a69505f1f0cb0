import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitBasicAuthorization } from './git-auth';
import { advertisedRefs } from './git-refs-http';
import { launcher } from './launcher';

export interface GitCredentials {
  username: string | null;
  secret: string | null;
  /** OpenSSH private key for ssh:// (and scp-form) URLs. */
  sshPrivateKey?: string | null;
}

export interface GitRunOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  onOutput?: (text: string, stream: 'stdout' | 'stderr') => void;
  /**
   * The umask git runs with, where it is not the process's own: a checkout that becomes a build context is written
   * as a clone under the usual 022 is (files 0644, executables and folders 0755), whatever the worker's umask.
   */
  umask?: number;
}

export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * git's environment: no prompts, only network protocols, no hooks, no system config, and credentials as an
 * http header in GIT_CONFIG_* (never in the URL, argv or a build's environment).
 */
export function gitEnv(url: string, creds: GitCredentials, ssh?: { keyFile: string; knownHosts: string }): NodeJS.ProcessEnv {
  const config: Array<[string, string]> = [
    ['protocol.allow', 'never'],
    ['protocol.https.allow', 'always'],
    ['protocol.http.allow', 'always'],
    ['protocol.ssh.allow', 'always'],
    ['protocol.git.allow', 'always'],
    ['credential.helper', ''],
    ['core.hooksPath', '/dev/null'],
  ];
  const authorization = gitBasicAuthorization(creds);
  // Scoped to the source's own host: a submodule elsewhere never sees the credentials.
  if (authorization && /^https?:/i.test(url)) config.push([`http.${new URL(url).origin}/.extraHeader`, `Authorization: ${authorization}`]);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_SSH_COMMAND: ssh
      ? `ssh -i ${ssh.keyFile} -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${ssh.knownHosts}`
      : 'ssh -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=accept-new',
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

const isSshUrl = (url: string) => /^ssh:\/\//i.test(url) || /^[A-Za-z0-9._-]+@[^:/]+:(?!\/\/)/.test(url);

/**
 * git's environment for one operation. An SSH key is written to a private temporary file for the operation's
 * length only (the file's path, not the key, is in the environment) and removed afterwards.
 */
export async function withGitEnv<T>(url: string, creds: GitCredentials, body: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  if (!creds.sshPrivateKey || !isSshUrl(url)) return body(gitEnv(url, creds));
  const dir = await fs.mkdtemp(join(tmpdir(), 'kiln-git-ssh-'));
  try {
    await fs.chmod(dir, 0o700);
    const keyFile = join(dir, 'key');
    const knownHosts = join(dir, 'known_hosts');
    const key = creds.sshPrivateKey.endsWith('\n') ? creds.sshPrivateKey : `${creds.sshPrivateKey}\n`;
    await fs.writeFile(keyFile, key, { mode: 0o600 });
    await fs.writeFile(knownHosts, '', { mode: 0o600 });
    return await body(gitEnv(url, creds, { keyFile, knownHosts }));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export function runGit(args: string[], o: GitRunOptions): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = launcher.spawn('git', args, { cwd: o.cwd, env: o.env, umask: o.umask });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    const abort = () => child.kill('SIGKILL');
    o.signal?.addEventListener('abort', abort, { once: true });
    child.stdout.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      stdout += text;
      o.onOutput?.(text, 'stdout');
    });
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      stderr += text;
      o.onOutput?.(text, 'stderr');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', abort);
      if (o.signal?.aborted) return reject(o.signal.reason ?? new Error('cancelled'));
      if (signal === 'SIGKILL') return resolve({ code: 124, stdout, stderr: stderr + `\ngit ${args[0]} timed out after ${o.timeoutMs} ms` });
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

export type GitProblem = 'SourceAuthFailed' | 'RepositoryNotFound' | 'RefNotFound' | 'GitUnavailable';

export function isRefusedSha(stderr: string): boolean {
  return /not our ref|unadvertised object|couldn't find remote ref|Server does not allow request for unadvertised/i.test(stderr);
}

/** What a failed git network command means for the user, from its stderr. */
export function classifyGitError(stderr: string, url: string): { type: GitProblem; message: string; hint: string } {
  const reason = lastLine(stderr);
  if (
    /Authentication failed|could not read Username|could not read Password|HTTP Basic: Access denied|returned error: 40[13]|Permission denied \(publickey|terminal prompts disabled|invalid credentials/i.test(
      stderr,
    )
  )
    return { type: 'SourceAuthFailed', message: `the git server refused Kiln's credentials for ${url}: ${reason}`, hint: 're-authorize the source with a token or key that can read this repository' };
  if (isRefusedSha(stderr)) return { type: 'RefNotFound', message: `the commit is not on ${url}: ${reason}`, hint: 'check the branch, tag or commit; it may have been force-pushed away' };
  if (/Repository not found|does not appear to be a git repository|returned error: 404|not found/i.test(stderr))
    return { type: 'RepositoryNotFound', message: `repository ${url} was not found: ${reason}`, hint: 'check the rule repository name and that the source credentials can see it' };
  return { type: 'GitUnavailable', message: `git could not reach ${url}: ${reason}`, hint: 'the git server may be unreachable; try again shortly' };
}

export function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines[lines.length - 1] ?? 'no output';
}

/**
 * The commit one ref points at (peeled for annotated tags), or null when absent: read from the server's ref
 * advertisement in-process where it can be (`advertisedRefs`), else by `git ls-remote`.
 */
export async function resolveRemoteRef(url: string, ref: string, creds: GitCredentials, timeoutMs = 30_000): Promise<string | null> {
  const advertised = await advertisedRefs(url, creds, timeoutMs);
  if (advertised) return advertised.get(`${ref}^{}`) ?? advertised.get(ref) ?? null;
  const run = await withGitEnv(url, creds, (env) => runGit(['ls-remote', '--', url, ref, `${ref}^{}`], { env, timeoutMs }));
  if (run.code !== 0) {
    const problem = classifyGitError(run.stderr, url);
    throw Object.assign(new Error(problem.message), problem);
  }
  let direct: string | null = null;
  for (const line of run.stdout.split('\n')) {
    const [sha, name] = line.trim().split(/\s+/);
    if (name === `${ref}^{}`) return sha;
    if (name === ref) direct = sha;
  }
  return direct;
}
