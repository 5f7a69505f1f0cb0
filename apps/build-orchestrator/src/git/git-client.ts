import { classifyGitError, GitCredentials, HostPolicy, withGitEnv, isRefusedSha, lastLine, runGit, UrlRefused } from '@kiln/platform';
import { transientFailure, userFailure } from '../activities/failures';

export interface CloneSpec {
  url: string;
  commit: string;
  /** Branch or tag the commit belongs to, fetched when the server refuses to serve a bare SHA. */
  ref: string | null;
  dir: string;
  credentials: GitCredentials;
  hosts: HostPolicy;
  timeoutMs: number;
  signal: AbortSignal;
  onOutput: (text: string, stream: 'stdout' | 'stderr') => void;
}

/** Shallow fetch of exactly one commit, with `--` before positional arguments. */
export async function cloneCommit(spec: CloneSpec): Promise<void> {
  // Checked again here, right before use: DNS answers change, and webhook-announced clone URLs land here too.
  try {
    await spec.hosts.check(spec.url);
  } catch (err) {
    if (err instanceof UrlRefused) throw userFailure('SourceUrlRefused', `refusing to clone: ${err.message}`, 'fix the source or rule repository URL, or ask an operator to allow the host');
    throw err;
  }
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(spec.commit))
    throw userFailure('RefNotFound', `${spec.commit} is not a full commit id`, 'build a full 40-character commit id');
  await withGitEnv(spec.url, spec.credentials, (env) => fetchAndCheckout(spec, env));
}

async function fetchAndCheckout(spec: CloneSpec, env: NodeJS.ProcessEnv): Promise<void> {
  const run = (args: string[]) => runGit(args, { cwd: spec.dir, env, timeoutMs: spec.timeoutMs, signal: spec.signal, onOutput: spec.onOutput });
  await run(['init', '--quiet']);
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
}
