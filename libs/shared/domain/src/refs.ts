export type RefType = 'branch' | 'tag' | 'other';

export interface ParsedRef {
  ref: string;
  type: RefType;
  /** The ref without `refs/heads/` or `refs/tags/`; slashes kept. */
  name: string;
}

const BRANCH_PREFIX = 'refs/heads/';
const TAG_PREFIX = 'refs/tags/';

export function parseRef(ref: string): ParsedRef {
  if (ref.startsWith(BRANCH_PREFIX)) return { ref, type: 'branch', name: ref.slice(BRANCH_PREFIX.length) };
  if (ref.startsWith(TAG_PREFIX)) return { ref, type: 'tag', name: ref.slice(TAG_PREFIX.length) };
  return { ref, type: 'other', name: ref };
}

export const branchRef = (name: string): string => BRANCH_PREFIX + name;
export const tagRef = (name: string): string => TAG_PREFIX + name;

export const ZERO_SHA = '0'.repeat(40);

/** Hosts send all-zero SHAs for created/deleted refs, sometimes shortened (`00000000`). */
export function isZeroSha(sha: string | null | undefined): boolean {
  return typeof sha === 'string' && sha.length > 0 && /^0+$/.test(sha);
}

export function normalizeSha(sha: string | null | undefined): string | null {
  if (sha === null || sha === undefined || sha === '') return null;
  return isZeroSha(sha) ? ZERO_SHA : sha.toLowerCase();
}

const SHA_RE = /^[0-9a-f]{7,64}$/i;
export const isCommitSha = (value: string): boolean => SHA_RE.test(value);

/**
 * git check-ref-format rules that matter for safety: no option-looking names, no `..`, no control
 * characters, no `~^:?*[\`, no trailing `.lock` or `/`.
 */
export function isSafeRefName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (name.startsWith('-') || name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  if (name.includes('..') || name.includes('//') || name.includes('@{') || name.endsWith('.lock')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.'));
}
