import { promises as fs } from 'node:fs';
import { classifyGitError, GitCredentials, HostPolicy, withGitEnv, isRefusedSha, lastLine, runGit, UrlRefused } from '@kiln/platform';
import { transientFailure, userFailure } from '../activities/failures';

export interface CloneSpec {
  url: string;
  commit: string;
  /** Also check out the repository's submodules (top level, shallow), each URL checked like the source's. */
  submodules?: boolean;
  /** Branch or tag the commit belongs to, fetched when the server refuses to serve a bare SHA. */
  ref: string | null;
  dir: string;
  credentials: GitCredentials;
  hosts: HostPolicy;
  timeoutMs: number;
  signal: AbortSignal;
  onOutput: (text: string, stream: 'stdout' | 'stderr') => void;
}

/** The URL and commit, checked right before git may contact the host: DNS answers change, and webhook-announced clone URLs land here too. */
export async function checkCloneSpec(spec: Pick<CloneSpec, 'url' | 'commit' | 'hosts'>): Promise<void> {
  try {
    await spec.hosts.check(spec.url);
  } catch (err) {
    if (err instanceof UrlRefused) throw userFailure('SourceUrlRefused', `refusing to clone: ${err.message}`, 'fix the source or rule repository URL, or ask an operator to allow the host');
    throw err;
  }
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(spec.commit)) throw userFailure('RefNotFound', `${spec.commit} is not a full commit id`, 'build a full 40-character commit id');
}

/**
 * The umask of checkouts that become build contexts: what `git clone` writes under a login shell's default (files
 * 0644, executables and folders 0755). BuildKit sends the files' modes with the context, so a worker running under
 * umask 077 would otherwise build images whose copied files only root can read.
 */
export const CHECKOUT_UMASK = 0o022;

/** The folder a checkout is written into, made with the mode a clone's folder has under CHECKOUT_UMASK. */
export async function makeContextDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.chmod(dir, 0o755);
}

/** Shallow fetch of exactly one commit, with `--` before positional arguments (rules with submodules). */
export async function cloneCommit(spec: CloneSpec): Promise<void> {
  await checkCloneSpec(spec);
  await makeContextDir(spec.dir);
  await withGitEnv(spec.url, spec.credentials, (env) => fetchAndCheckout(spec, env));
}

async function fetchAndCheckout(spec: CloneSpec, env: NodeJS.ProcessEnv): Promise<void> {
  const run = (args: string[]) => runGit(args, { cwd: spec.dir, env, umask: CHECKOUT_UMASK, timeoutMs: spec.timeoutMs, signal: spec.signal, onOutput: spec.onOutput });
  await run(['init', '--quiet']);
  // Relative submodule URLs resolve against origin.
  await run(['config', 'remote.origin.url', spec.url]);
  let fetched = await run(['fetch', '--depth', '1', '--no-tags', '--quiet', '--', spec.url, spec.commit]);
  if (fetched.code !== 0 && spec.ref && isRefusedSha(fetched.stderr)) {
    // Servers without uploadpack.allowReachableSHA1InWant: fetch the ref and check it still holds the commit.
    fetched = await run(['fetch', '--depth', '50', '--no-tags', '--quiet', '--', spec.url, `+${spec.ref}:refs/kiln/target`]);
    if (fetched.code === 0 && (await run(['cat-file', '-e', `${spec.commit}^{commit}`])).code !== 0)
      throw userFailure('RefNotFound', `commit ${spec.commit} is no longer reachable from ${spec.ref}`, 'the branch moved on; build the new commit or push again');
  }
  if (fetched.code !== 0) {
    const p = classifyGitError(fetched.stderr, spec.url);
    throw p.type === 'GitUnavailable' ? transientFailure(p.type, p.message, 'Kiln retries with backoff') : userFailure(p.type, p.message, p.hint);
  }
  const checkout = await run(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force', spec.commit]);
  if (checkout.code !== 0) throw transientFailure('GitCheckoutFailed', `git checkout failed: ${lastLine(checkout.stderr)}`, 'retrying; check the worker disk if it persists');
  if (spec.submodules) await updateSubmodules(spec, run);
}

/** Top-level submodules only: each URL passes the same checks as a source URL before git may contact it. */
async function updateSubmodules(spec: CloneSpec, run: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>): Promise<void> {
  const listed = await run(['config', '--file', '.gitmodules', '--get-regexp', '^submodule\\..*\\.url$']);
  if (listed.code !== 0) return; // no .gitmodules
  for (const line of listed.stdout.split('\n').filter(Boolean)) {
    const raw = line.slice(line.indexOf(' ') + 1).trim();
    const url = /^\.\.?\//.test(raw) ? new URL(raw, spec.url.endsWith('/') ? spec.url : `${spec.url}/`).toString() : raw;
    try {
      await spec.hosts.check(url);
    } catch (err) {
      if (err instanceof UrlRefused)
        throw userFailure('SourceUrlRefused', `refusing the submodule ${raw}: ${err.message}`, 'fix the submodule URL in .gitmodules, or turn submodules off for this rule');
      throw err;
    }
  }
  const updated = await run(['submodule', 'update', '--init', '--depth', '1', '--']);
  if (updated.code !== 0) {
    const p = classifyGitError(updated.stderr, spec.url);
    throw p.type === 'GitUnavailable' ? transientFailure(p.type, `submodules: ${p.message}`, 'Kiln retries with backoff') : userFailure(p.type, `submodules: ${p.message}`, p.hint);
  }
}
