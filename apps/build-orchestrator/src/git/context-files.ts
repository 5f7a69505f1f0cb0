import { posix } from 'node:path';

/**
 * Which files of a commit a build needs on disk. BuildKit's context transfer leaves out what `.dockerignore` (or
 * `<Dockerfile>.dockerignore`) excludes, so the worker need not fetch or write those files either: a repository's
 * large assets, docs or fixtures, kept out of the image, then cost nothing on a new worker. The mirror checks the
 * commit out with git's sparse checkout, from the patterns made here.
 *
 * Getting this wrong would change what is built, so it errs on one side only: a file is left out only when Kiln is
 * sure that BuildKit leaves it out. The ignore file is read and matched as moby/patternmatcher (what BuildKit uses)
 * does, for the patterns whose meaning is the same in git's sparse-checkout syntax: literal names, `*`, `?`, and
 * `**` as a whole path segment. Anything else (`!` exceptions, character classes, escapes, unusual characters)
 * checks the whole tree out, as before.
 */

/** The files a build reads besides the context's: they are always checked out. */
export interface BuildFiles {
  /** The build context, relative to the repository root (`.` for the root). */
  contextDir: string;
  /** The Dockerfile, relative to the repository root. */
  dockerfilePath: string;
}

/** What the commit holds at the paths the patterns depend on. */
export interface TreeFacts {
  /** `contextDir` is a directory (not a symlink, not missing). */
  contextIsDirectory: boolean;
  /** The Dockerfile is a regular file. */
  dockerfileIsFile: boolean;
  /** The ignore file BuildKit applies: `<Dockerfile>.dockerignore` when the commit has one, else the context's `.dockerignore`; null without either. */
  ignoreFile: { path: string; text: string } | null;
}

export type SparsePlan = { patterns: string; excluded: string[] } | { patterns: null; why: string };

/** Go's `filepath.Clean` for slash-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else out.push(part);
  }
  const joined = out.join('/');
  return rooted ? '/' + joined : joined || '.';
}

/** moby/patternmatcher's `ignorefile.ReadAll`: the patterns of an ignore file, cleaned, `!` kept as a prefix. */
export function readIgnoreFile(text: string): string[] {
  const patterns: string[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((line) => {
      if (line.startsWith('#')) return;
      let pattern = line.trim();
      if (pattern === '') return;
      const invert = pattern.startsWith('!');
      if (invert) pattern = pattern.slice(1).trim();
      if (pattern.length > 0) {
        pattern = cleanPath(pattern);
        if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
      }
      patterns.push(invert ? '!' + pattern : pattern);
    });
  return patterns;
}

/** Characters whose meaning is the same to patternmatcher and to git's sparse patterns (`*` and `?` are globs in both). */
const PLAIN = /^[A-Za-z0-9._\-/*?@+=,~%:]+$/;
/** Path characters that need no escaping in a sparse pattern. */
const LITERAL = /^[A-Za-z0-9._\-/@+=,~%:]+$/;

/** One pattern as patternmatcher compiles it (`Pattern.compile` for `/`), for the plain patterns above. */
export function compilePattern(pattern: string): (path: string) => boolean {
  let re = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0, k = 0; k < pattern.length; i++) {
    const ch = pattern[k++];
    if (ch === '*') {
      if (pattern[k] === '*') {
        k++;
        if (pattern[k] === '/') k++;
        if (k >= pattern.length) {
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else re += ch.replace(/[.+()|{}$^[\]\\]/g, '\\$&');
  }
  if (type === 'exact') return (path) => path === pattern;
  if (type === 'prefix') return (path) => path.startsWith(pattern.slice(0, -2));
  if (type === 'suffix') {
    const suffix = pattern.slice(2);
    return (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
  }
  const regexp = new RegExp(re + '$', 's');
  return (path) => regexp.test(path);
}

/** patternmatcher's `MatchesOrParentMatches` without exceptions: the path or one of its parent directories matches. */
export function excludedBy(patterns: Array<(path: string) => boolean>, path: string): boolean {
  const parts = path.split('/');
  for (const match of patterns) {
    if (match(path)) return true;
    for (let i = 1; i < parts.length; i++) if (match(parts.slice(0, i).join('/'))) return true;
  }
  return false;
}

/** A repository path, relative and clean (`''` for the root). */
export const repoPath = (p: string): string => {
  const c = cleanPath(p);
  return c === '.' ? '' : c;
};

/**
 * The sparse-checkout patterns for a build: every file, less what the ignore file excludes from the context, with the
 * files the frontend reads (the Dockerfile and the ignore files) always in. `patterns: null` (with the reason) means
 * the whole tree.
 */
export function sparsePlan(files: BuildFiles, facts: TreeFacts): SparsePlan {
  const context = repoPath(files.contextDir);
  const dockerfile = repoPath(files.dockerfilePath);
  const all = (why: string): SparsePlan => ({ patterns: null, why });
  if (!facts.contextIsDirectory || !facts.dockerfileIsFile) return all('the build context or the Dockerfile is not a plain directory or file of the commit');
  if (!facts.ignoreFile) return all('no .dockerignore');
  const keep = [dockerfile, `${dockerfile}.dockerignore`, context ? `${context}/.dockerignore` : '.dockerignore'];
  if (keep.concat(context || '.').some((p) => !LITERAL.test(p) || p.startsWith('..'))) return all('a path with characters Kiln does not match by pattern');
  const patterns = readIgnoreFile(facts.ignoreFile.text);
  const unsure = patterns.find((p) => p.startsWith('!') || !PLAIN.test(p) || p === '.' || p.startsWith('../') || p === '..' || /\*\*[^/]|[^/]\*\*/.test(p));
  if (unsure !== undefined) return all(`${facts.ignoreFile.path} has a pattern Kiln leaves to BuildKit alone (${JSON.stringify(unsure)})`);
  if (patterns.length === 0) return all(`${facts.ignoreFile.path} excludes nothing`);
  const matchers = patterns.map(compilePattern);
  // The files the frontend reads stay in; one inside an excluded directory could not be brought back.
  for (const p of keep) {
    const inContext = context === '' ? p : p.startsWith(context + '/') ? p.slice(context.length + 1) : null;
    if (inContext === null) continue;
    const parent = posix.dirname(inContext);
    if (parent !== '.' && excludedBy(matchers, parent)) return all(`${facts.ignoreFile.path} excludes the folder of ${p}`);
  }
  const prefix = context ? `/${context}/` : '/';
  return {
    patterns: ['/*', ...patterns.map((p) => `!${prefix}${p}`), ...keep.map((p) => `/${p}`)].join('\n') + '\n',
    excluded: patterns.map((p) => `${prefix.slice(1)}${p}`),
  };
}
