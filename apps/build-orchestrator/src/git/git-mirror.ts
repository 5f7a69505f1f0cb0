import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { classifyGitError, GitRun, isRefusedSha, lastLine, runGit, withGitEnv } from '@kiln/platform';
import { transientFailure, userFailure } from '../activities/failures';
import { checkCloneSpec, CHECKOUT_UMASK, CloneSpec, makeContextDir } from './git-client';
import { BuildFiles, repoPath, sparsePlan, TreeFacts } from './context-files';

export interface MirrorSpec extends CloneSpec {
  /**
   * The source whose credentials fetch into the mirror. Mirrors are per source and URL: a commit fetched with one
   * source's credentials is never served to a build of another source, whose credentials might not reach it.
   */
  sourceId: string;
  /** Where this worker keeps one bare mirror per repository URL. */
  mirrorDir: string;
  /** Mirrors beyond this many bytes in all are evicted, least recently used first. */
  budgetBytes: number;
  onNote: (text: string) => void;
  /** The build the checkout is for: it holds one of the mirror's working trees until `releaseTree(buildId)`. */
  buildId: string;
  /**
   * The build's context and Dockerfile: only the files BuildKit will read are fetched and checked out (what the
   * ignore file excludes is left out). Without it, the whole tree.
   */
  buildFiles?: BuildFiles;
}

export interface MirrorResult {
  /** The working tree holding the commit, leased to this build. */
  dir: string;
  /** Objects this build fetched into the mirror (0 when the commit was already there). */
  fetchedObjects: number;
  /** The mirror was damaged and was rebuilt from scratch. */
  rebuilt: boolean;
}

/**
 * Files of this size or more are left out of a new mirror's first fetch, and fetched by the checkout when the build
 * reads them: source files come in the one request, large assets only when the build context holds them.
 */
const FIRST_FETCH_BLOB_LIMIT = '128k';

/** One operation at a time per mirror in this process (concurrent builds of a repository share it). */
const locks = new Map<string, Promise<unknown>>();

export const mirrorPath = (mirrorDir: string, sourceId: string, url: string): string => join(mirrorDir, `${createHash('sha256').update(`${sourceId}\n${url}`).digest('hex').slice(0, 32)}.git`);

/** The folder of a mirror's working trees (`<hash>.trees/0`, `1`, … with an index file each). */
const treesOf = (mirror: string): string => mirror.replace(/\.git$/, '.trees');

/**
 * Working trees are kept per mirror and leased to one build at a time, so checking out the next commit rewrites only
 * the files it changed, and BuildKit's context transfer (which compares file stats with what it received last time)
 * sends only those. Free trees are reused most recently released first: that one matches BuildKit's copy best.
 */
const freeTrees = new Map<string, number[]>();
const leases = new Map<string, { mirror: string; n: number }>();

function leaseTree(mirror: string, buildId: string): number {
  const held = leases.get(buildId);
  if (held?.mirror === mirror) return held.n;
  releaseTree(buildId);
  const free = freeTrees.get(mirror) ?? [];
  let n = free.pop();
  if (n === undefined) {
    const used = new Set([...leases.values()].filter((l) => l.mirror === mirror).map((l) => l.n));
    for (n = 0; used.has(n); n++);
  }
  freeTrees.set(mirror, free);
  leases.set(buildId, { mirror, n });
  return n;
}

/** The build is done with its working tree (its cleanup): the next build of the repository may take it. */
export function releaseTree(buildId: string): boolean {
  const lease = leases.get(buildId);
  if (!lease) return false;
  leases.delete(buildId);
  const free = freeTrees.get(lease.mirror) ?? [];
  if (!free.includes(lease.n)) free.push(lease.n);
  freeTrees.set(lease.mirror, free);
  return true;
}

/**
 * The commit's tree, checked out into `spec.dir` from a bare mirror of the repository that this worker keeps: a new
 * commit fetches only what the mirror lacks. A damaged mirror is rebuilt once without failing the build. Same rules as
 * a fresh clone: the URL is checked right before use, credentials reach git as a header or key file only.
 */
export async function checkoutFromMirror(spec: MirrorSpec): Promise<MirrorResult> {
  await checkCloneSpec(spec);
  const path = mirrorPath(spec.mirrorDir, spec.sourceId, spec.url);
  const previous = locks.get(path) ?? Promise.resolve();
  const tree = join(treesOf(path), String(leaseTree(path, spec.buildId)));
  const mine = previous.catch(() => undefined).then(() => withGitEnv(spec.url, spec.credentials, (env) => withRecovery(spec, path, tree, env)));
  // git's housekeeping (`maintenance run --auto`, which a fetch would run before it returns) once the build has its
  // tree: the mirror's next operation waits for it, the build does not.
  const settled = mine
    .then(() => runGit(['--git-dir', path, 'maintenance', 'run', '--auto', '--quiet'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_CONFIG_NOSYSTEM: '1' }, timeoutMs: 30 * 60_000 }))
    .catch(() => undefined);
  locks.set(path, settled);
  void settled.then(() => {
    if (locks.get(path) === settled) locks.delete(path);
  });
  try {
    const result = await mine;
    await evictOverBudget(spec.mirrorDir, spec.budgetBytes, path, spec.onNote).catch(() => undefined);
    return result;
  } catch (err) {
    releaseTree(spec.buildId);
    throw err;
  }
}

/** Errors of the git server or the network (the user's or transient): never a reason to throw the mirror away. */
class RemoteProblem extends Error {
  constructor(readonly failure: Error) {
    super(failure.message);
  }
}

async function withRecovery(spec: MirrorSpec, path: string, tree: string, env: NodeJS.ProcessEnv): Promise<MirrorResult> {
  const existed = await fs.stat(path).then(
    () => true,
    () => false,
  );
  try {
    return { ...(await update(spec, path, tree, env)), dir: tree, rebuilt: false };
  } catch (err) {
    if (err instanceof RemoteProblem) throw err.failure;
    if (spec.signal.aborted || !existed) throw err;
    spec.onNote(`the mirror of ${spec.url} is damaged (${(err as Error).message}); rebuilding it`);
    await fs.rm(path, { recursive: true, force: true });
    await removeTree(tree);
    try {
      return { ...(await update(spec, path, tree, env)), dir: tree, rebuilt: true };
    } catch (again) {
      if (again instanceof RemoteProblem) throw again.failure;
      throw again;
    }
  }
}

async function update(spec: MirrorSpec, path: string, tree: string, env: NodeJS.ProcessEnv): Promise<{ fetchedObjects: number }> {
  const git = (args: string[], cwd?: string, extraEnv: NodeJS.ProcessEnv = {}, umask?: number): Promise<GitRun> =>
    runGit(args, {
      cwd,
      env: { ...env, ...extraEnv },
      umask,
      timeoutMs: spec.timeoutMs,
      signal: spec.signal,
      onOutput: (text, stream) => (stream === 'stderr' ? spec.onOutput(text, stream) : undefined),
    });
  const local = async (args: string[], what: string, extraEnv: NodeJS.ProcessEnv = {}, umask?: number) => {
    const r = await git(['--git-dir', path, ...args], undefined, extraEnv, umask);
    if (r.code !== 0) throw new Error(`${what}: ${lastLine(r.stderr)}`);
    return r;
  };
  await fs.mkdir(spec.mirrorDir, { recursive: true });
  const created = !(await fs.stat(path).then(
    () => true,
    () => false,
  ));
  if (created) {
    const init = await git(['init', '--bare', '--quiet', path]);
    if (init.code !== 0) throw transientFailure('GitCheckoutFailed', `cannot create the mirror: ${lastLine(init.stderr)}`, 'check the worker disk');
    // A partial clone: its first fetch leaves large files out, and they come as checkouts need them (from `origin`,
    // the promisor remote), so large files a build leaves out are never downloaded. The credentials still reach git
    // only through the environment; the URL holds none. (Written in one go: a git process costs 15 ms here.)
    const quoted = `"${spec.url.replace(/[\\"]/g, '\\$&')}"`;
    await fs.appendFile(join(path, 'config'), `[remote "origin"]\n\turl = ${quoted}\n\tpromisor = true\n[extensions]\n\tpartialClone = origin\n`);
  }
  // Whether the mirror holds the commit, without fetching it (rev-parse would, in a partial clone: lazily, object by
  // object) and without a word in the build log when it does not, the usual case.
  const has = async () => {
    const r = await runGit(['--git-dir', path, 'rev-list', '-n1', '--no-walk', '--missing=print', `${spec.commit}^{commit}`, '--'], { env, timeoutMs: 60_000, signal: spec.signal });
    // A mirror whose repository git cannot open is damaged (a truncated HEAD or config, a removed objects folder).
    if (r.code !== 0 && /not a git repository/i.test(r.stderr)) throw new Error(`the mirror does not open: ${lastLine(r.stderr)}`);
    return r.code === 0;
  };
  let fetchedObjects = 0;
  let before: number | null = null;
  if (!(await has())) {
    before = created ? 0 : await objectCount(path);
    // A new mirror's first fetch takes the commit alone: no history, and no file of FIRST_FETCH_BLOB_LIMIT or more
    // (a server that cannot filter sends them, and git says so). Later fetches take each new commit whole, down to
    // what the mirror has: its changed files are what its build needs.
    const fetch = async (what: string[], o: { log: boolean; commitAlone: boolean }) => {
      const run = (args: string[]) => (o.log ? git(['--git-dir', path, ...args]) : runGit(['--git-dir', path, ...args], { env, timeoutMs: spec.timeoutMs, signal: spec.signal }));
      if (!created) return run(['fetch', '--no-tags', '--quiet', '--no-auto-maintenance', '--', spec.url, ...what]);
      const depth = o.commitAlone ? ['--depth=1'] : [];
      let r = await run(['fetch', '--no-tags', '--quiet', '--no-auto-maintenance', ...depth, `--filter=blob:limit=${FIRST_FETCH_BLOB_LIMIT}`, 'origin', ...what]);
      // A server may allow some filters and not this one: then the commit with all its files.
      if (r.code !== 0 && /filter/i.test(r.stderr)) r = await run(['fetch', '--no-tags', '--quiet', '--no-auto-maintenance', ...depth, 'origin', ...what]);
      // git remembers the filter for `origin`; later fetches name the URL, so they take whole commits.
      return r;
    };
    // The commit itself first: servers speaking protocol v2 serve any commit, and git then skips listing the refs
    // (a round trip). A server that refuses it is asked for the branch or tag, which must still hold the commit
    // somewhere in its history (so that fetch is not a shallow one).
    const byCommit = await fetch([spec.ref ? `+${spec.commit}:${spec.ref}` : spec.commit], { log: false, commitAlone: true });
    if (byCommit.code !== 0) {
      if (!isRefusedSha(byCommit.stderr) || !spec.ref) throw remote(byCommit, spec.url);
      const byRef = await fetch([`+${spec.ref}:${spec.ref}`], { log: true, commitAlone: false });
      if (byRef.code !== 0) throw remote(byRef, spec.url);
      if (!(await has()))
        throw new RemoteProblem(
          userFailure('RefNotFound', `commit ${spec.commit} is not on ${spec.url} (${spec.ref})`, 'the branch moved on, or the commit was force-pushed away; build the new commit or push again'),
        );
    }
  } else spec.onNote(`mirror: ${spec.commit.slice(0, 12)} is already in the mirror; nothing fetched`);
  // The files the build reads, as sparse-checkout patterns of the mirror (read by the checkout below only).
  const plan = spec.buildFiles ? sparsePlan(spec.buildFiles, await treeFacts(path, spec.commit, spec.buildFiles, env)) : { patterns: null, why: 'the whole tree' };
  await fs.mkdir(join(path, 'info'), { recursive: true });
  await fs.writeFile(join(path, 'info', 'sparse-checkout'), plan.patterns ?? '/*\n');
  if (plan.patterns !== null) spec.onNote(`checking out the files the build reads: ${plan.excluded.join(', ')} left out (.dockerignore)`);
  // The tree alone, into the leased working tree: no .git there (the build context is the tree, as BuildKit's git
  // contexts). Its index, beside it, tells git which files are already right: only the others are written (and
  // fetched, in one request, when the mirror lacks them). Written with CHECKOUT_UMASK, as a clone would be; the
  // mirror's own folder keeps them private.
  const index = `${tree}.index`;
  const checkout = () =>
    local(
      ['--work-tree', tree, '-c', 'core.bare=false', '-c', 'core.sparseCheckout=true', 'read-tree', '-u', '--reset', spec.commit],
      'checking out the commit from the mirror',
      { GIT_INDEX_FILE: index },
      CHECKOUT_UMASK,
    );
  const kept = await fs.stat(index).then(
    () => true,
    () => false,
  );
  // Without its index (a new tree, or a checkout cut short) a tree is written from scratch.
  if (!kept) await removeTree(tree);
  await makeContextDir(tree);
  try {
    await checkout();
  } catch (err) {
    if (spec.signal.aborted || !kept) throw err;
    await removeTree(tree);
    await makeContextDir(tree);
    await checkout();
  } finally {
    if (!kept) treesWritten.add(path);
  }
  if (before !== null) {
    // Counted after the checkout: the file contents it fetched are part of what this build took from the server.
    fetchedObjects = Math.max(0, (await objectCount(path)) - before);
    spec.onNote(`mirror: fetched ${fetchedObjects} new objects from ${spec.url}`);
  }
  const now = new Date();
  await fs.utimes(path, now, now); // most recently used, for eviction
  return { fetchedObjects };
}

/** Ignore files by blob id: they rarely change, and reading one is a process more per build. */
const ignoreTexts = new Map<string, string>();

/** What the commit has at the paths that decide the sparse patterns: one `ls-tree`, and the ignore file's text. */
async function treeFacts(path: string, commit: string, files: BuildFiles, env: NodeJS.ProcessEnv): Promise<TreeFacts> {
  const context = repoPath(files.contextDir);
  const dockerfile = repoPath(files.dockerfilePath);
  const specific = `${dockerfile}.dockerignore`;
  const contextIgnore = context ? `${context}/.dockerignore` : '.dockerignore';
  const paths = [...new Set([context, dockerfile, specific, contextIgnore].filter((p) => p !== ''))];
  const r = await runGit(['--git-dir', path, '--literal-pathspecs', 'ls-tree', '-z', '--full-tree', commit, '--', ...paths], { env, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`reading the commit's tree: ${lastLine(r.stderr)}`);
  const entries = new Map<string, { mode: string; oid: string }>();
  for (const line of r.stdout.split('\0')) {
    const m = /^(\d+) \w+ ([0-9a-f]+)\t(.*)$/s.exec(line);
    if (m) entries.set(m[3], { mode: m[1], oid: m[2] });
  }
  const isFile = (p: string) => ['100644', '100755'].includes(entries.get(p)?.mode ?? '');
  const ignorePath = isFile(specific) ? specific : isFile(contextIgnore) ? contextIgnore : null;
  let ignoreFile: TreeFacts['ignoreFile'] = null;
  if (ignorePath) {
    const oid = entries.get(ignorePath)?.oid as string;
    let text = ignoreTexts.get(oid);
    if (text === undefined) {
      const blob = await runGit(['--git-dir', path, 'cat-file', 'blob', oid], { env, timeoutMs: 60_000 });
      if (blob.code !== 0) throw new Error(`reading ${ignorePath}: ${lastLine(blob.stderr)}`);
      text = blob.stdout;
      if (ignoreTexts.size > 1000) ignoreTexts.clear();
      ignoreTexts.set(oid, text);
    }
    ignoreFile = { path: ignorePath, text };
  }
  // Asked for a folder and a path inside it, ls-tree lists the folder's entries instead of the folder itself.
  const contextIsDirectory = context === '' || entries.get(context)?.mode === '040000' || [...entries.keys()].some((p) => p.startsWith(`${context}/`));
  return { contextIsDirectory, dockerfileIsFile: isFile(dockerfile), ignoreFile };
}

async function removeTree(tree: string): Promise<void> {
  await fs.rm(`${tree}.index`, { force: true });
  await fs.rm(tree, { recursive: true, force: true });
}

function remote(run: GitRun, url: string): RemoteProblem {
  const p = classifyGitError(run.stderr, url);
  return new RemoteProblem(p.type === 'GitUnavailable' ? transientFailure(p.type, p.message, 'Kiln retries with backoff') : userFailure(p.type, p.message, p.hint));
}

/**
 * The objects in a repository, as `git count-objects` counts them (loose ones, and each pack's), read in-process: two
 * git processes less per build. A pack's count is the last entry of its index's fan-out table.
 */
export async function objectCount(path: string): Promise<number> {
  const objects = join(path, 'objects');
  let count = 0;
  const dirs = (await fs.readdir(objects)).filter((d) => /^[0-9a-f]{2}$/.test(d));
  const loose = await Promise.all(dirs.map(async (d) => (await fs.readdir(join(objects, d))).filter((f) => /^[0-9a-f]{38}([0-9a-f]{24})?$/.test(f)).length));
  for (const n of loose) count += n;
  const packs = (await fs.readdir(join(objects, 'pack')).catch(() => [] as string[])).filter((f) => f.endsWith('.idx'));
  for (const idx of packs) {
    const handle = await fs.open(join(objects, 'pack', idx), 'r');
    try {
      const head = Buffer.alloc(8 + 256 * 4);
      await handle.read(head, 0, head.length, 0);
      // Version 2 and later start with "\377tOc" and a version; version 1 starts with the table.
      const table = head.readUInt32BE(0) === 0xff744f63 ? 8 : 0;
      count += head.readUInt32BE(table + 255 * 4);
    } finally {
      await handle.close();
    }
  }
  return count;
}

/**
 * Bytes of each mirror, measured when it was last used, and of its working trees, measured when one was written from
 * scratch (`treesWritten`): a tree holds every file of the repository, too many to walk at each build; a new commit
 * changes its size little.
 */
const sizes = new Map<string, number>();
const treeSizes = new Map<string, number>();
const treesWritten = new Set<string>();

/**
 * Keep the mirrors (with their working trees) within the budget: the least recently used go first, never the one
 * just used, nor one whose tree a build holds.
 */
async function evictOverBudget(dir: string, budgetBytes: number, keep: string, onNote: (t: string) => void): Promise<void> {
  const entries = (await fs.readdir(dir)).filter((n) => n.endsWith('.git')).map((n) => join(dir, n));
  const measure = async (p: string) => {
    if (treesWritten.delete(p) || !treeSizes.has(p)) treeSizes.set(p, await sizeOf(treesOf(p)).catch(() => 0));
    return (await sizeOf(p)) + (treeSizes.get(p) ?? 0);
  };
  sizes.set(keep, await measure(keep));
  const mirrors = await Promise.all(
    entries.map(async (p) => {
      const size = sizes.get(p) ?? (await measure(p));
      sizes.set(p, size);
      return { path: p, size, used: (await fs.stat(p)).mtimeMs };
    }),
  );
  const leased = new Set([...leases.values()].map((l) => l.mirror));
  let total = mirrors.reduce((s, m) => s + m.size, 0);
  for (const m of mirrors.sort((a, b) => a.used - b.used)) {
    if (total <= budgetBytes) break;
    if (m.path === keep || leased.has(m.path)) continue;
    await fs.rm(m.path, { recursive: true, force: true });
    await fs.rm(treesOf(m.path), { recursive: true, force: true });
    freeTrees.delete(m.path);
    sizes.delete(m.path);
    treeSizes.delete(m.path);
    total -= m.size;
    onNote(`mirror budget: evicted ${m.path} (${Math.round(m.size / 1024)} KiB with its working trees, least recently used)`);
  }
}

export async function sizeOf(path: string): Promise<number> {
  const st = await fs.lstat(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await fs.readdir(path)) total += await sizeOf(join(path, name));
  return total;
}
