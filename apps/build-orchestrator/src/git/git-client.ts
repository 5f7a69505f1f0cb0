import { spawn } from 'node:child_process';
import { userFailure, transientFailure } from '../activities/failures';

export interface GitCredentials {
  username: string | null;
  secret: string | null;
}

export interface CloneSpec {
  url: string;
  commit: string;
  /** Branch or tag the commit belongs to, fetched when the server refuses to serve a bare SHA. */
  ref: string | null;
  dir: string;
  credentials: GitCredentials;
  timeoutMs: number;
  signal: AbortSignal;
  onOutput: (text: string, stream: 'stdout' | 'stderr') => void;
}

const ALLOWED_URL = /^(https?|ssh|git):\/\//i;

/**
 * Shallow fetch of exactly one commit. git runs without prompts, with only network protocols allowed, `--` before
 * positional arguments, and credentials in git's own environment (GIT_CONFIG_*), never in the URL or argv.
 */
export async function cloneCommit(spec: CloneSpec): Promise<void> {
  if (!ALLOWED_URL.test(spec.url) || spec.url.startsWith('-'))
    throw userFailure('SourceUrlRefused', `refusing to clone ${spec.url}: only https, http, ssh and git URLs are allowed`, 'fix the source or rule repository URL');
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(spec.commit))
    throw userFailure('RefNotFound', `${spec.commit} is not a full commit id`, 'build a full 40-character commit id');
  const env = gitEnv(spec.url, spec.credentials);
  const run = (args: string[]) => runGit(args, { cwd: spec.dir, env, timeoutMs: spec.timeoutMs, signal: spec.signal, onOutput: spec.onOutput });
  await run(['init', '--quiet']);
  let fetched = await run(['fetch', '--depth', '1', '--no-tags', '--quiet', '--', spec.url, spec.commit]);
  if (fetched.code !== 0 && spec.ref && isRefusedSha(fetched.stderr)) {
    // Servers without uploadpack.allowReachableSHA1InWant: fetch the ref and check it still holds the commit.
    fetched = await run(['fetch', '--depth', '50', '--no-tags', '--quiet', '--', spec.url, `+${spec.ref}:refs/kiln/target`]);
    if (fetched.code === 0 && (await run(['cat-file', '-e', `${spec.commit}^{commit}`])).code !== 0)
      throw userFailure('RefNotFound', `commit ${spec.commit} is no longer reachable from ${spec.ref}`, 'the branch moved on; build the new commit or push again');
  }
  if (fetched.code !== 0) throw classify(fetched.stderr, spec.url);
  const checkout = await run(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force', spec.commit]);
  if (checkout.code !== 0) throw transientFailure('GitCheckoutFailed', `git checkout failed: ${lastLine(checkout.stderr)}`, 'retrying; check the worker disk if it persists');
}

function gitEnv(url: string, creds: GitCredentials): NodeJS.ProcessEnv {
  const config: Array<[string, string]> = [
    ['protocol.allow', 'never'],
    ['protocol.https.allow', 'always'],
    ['protocol.http.allow', 'always'],
    ['protocol.ssh.allow', 'always'],
    ['protocol.git.allow', 'always'],
    ['credential.helper', ''],
    ['core.hooksPath', '/dev/null'],
  ];
  if (creds.secret && /^https?:/i.test(url)) {
    const basic = Buffer.from(`${creds.username ?? 'x-access-token'}:${creds.secret}`).toString('base64');
    config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new',
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

function isRefusedSha(stderr: string): boolean {
  return /not our ref|unadvertised object|couldn't find remote ref|Server does not allow request for unadvertised/i.test(stderr);
}

function classify(stderr: string, url: string) {
  const reason = lastLine(stderr);
  if (/Authentication failed|could not read Username|could not read Password|HTTP Basic: Access denied|returned error: 40[13]|Permission denied \(publickey|terminal prompts disabled|invalid credentials/i.test(stderr))
    return userFailure('SourceAuthFailed', `the git server refused Kiln's credentials for ${url}: ${reason}`, 're-authorize the source with a token or key that can read this repository');
  if (/Repository not found|does not appear to be a git repository|returned error: 404|not found/i.test(stderr) && !isRefusedSha(stderr))
    return userFailure('RepositoryNotFound', `repository ${url} was not found: ${reason}`, 'check the rule repository name and that the source credentials can see it');
  if (isRefusedSha(stderr))
    return userFailure('RefNotFound', `the commit is not on ${url}: ${reason}`, 'check the branch, tag or commit; it may have been force-pushed away');
  return transientFailure('GitUnavailable', `git fetch from ${url} failed: ${reason}`, 'the git server may be unreachable; Kiln retries with backoff');
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines[lines.length - 1] ?? 'no output';
}

interface GitRun {
  code: number;
  stderr: string;
}

function runGit(args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; signal: AbortSignal; onOutput: CloneSpec['onOutput'] }): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    const abort = () => child.kill('SIGKILL');
    o.signal.addEventListener('abort', abort, { once: true });
    child.stdout.on('data', (d: Buffer) => o.onOutput(d.toString('utf8'), 'stdout'));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      stderr += text;
      o.onOutput(text, 'stderr');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', abort);
      if (o.signal.aborted) return reject(o.signal.reason ?? new Error('cancelled'));
      if (signal === 'SIGKILL') return resolve({ code: 124, stderr: stderr + `\ngit ${args[0]} timed out after ${o.timeoutMs} ms` });
      resolve({ code: code ?? 1, stderr });
    });
  });
}
