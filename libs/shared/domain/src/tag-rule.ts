import { FieldProblem, ValidationError } from './errors';

export type TagPart = 'ref' | 'time' | 'commit';
export const TAG_PARTS: readonly TagPart[] = ['ref', 'time', 'commit'];

export interface TagRule {
  /** Optional custom prefix, placed first. */
  prefix?: string;
  /** Ordered choice of parts, joined by `-` after the prefix. */
  parts: TagPart[];
  /** Tokens YYYY MM DD HH mm ss; anything else must be tag-safe literal text. Default `YYYYMMDDHHmmss`. */
  timeFormat?: string;
  /** IANA time zone for the time part. Default `UTC`. */
  timeZone?: string;
  /** Characters of the commit id. Default 7. */
  commitLength?: number;
}

export type NormalizedTagRule = Required<Omit<TagRule, 'prefix'>> & { prefix: string };

export const DEFAULT_TAG_RULE: NormalizedTagRule = {
  prefix: '',
  parts: ['ref', 'time', 'commit'],
  timeFormat: 'YYYYMMDDHHmmss',
  timeZone: 'UTC',
  commitLength: 7,
};

export const OCI_TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const MAX_TAG_LENGTH = 128;
const PREFIX_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const TIME_TOKEN_RE = /YYYY|MM|DD|HH|mm|ss/g;
const HASH_LENGTH = 8;

/** Validate and fill defaults. A rule whose tag could never be valid is refused here, not at build time. */
export function normalizeTagRule(input: Partial<TagRule> | undefined, field = 'tagRule'): NormalizedTagRule {
  const rule = { ...DEFAULT_TAG_RULE, ...stripUndefined(input ?? {}) };
  const problems: FieldProblem[] = [];
  if (typeof rule.prefix !== 'string') problems.push({ field: `${field}.prefix`, message: 'must be a string' });
  else if (rule.prefix !== '' && !PREFIX_RE.test(rule.prefix)) problems.push({ field: `${field}.prefix`, message: 'must start with a letter, digit or _ and contain only letters, digits, _ . -' });
  if (!Array.isArray(rule.parts) || rule.parts.some((p) => !TAG_PARTS.includes(p))) problems.push({ field: `${field}.parts`, message: `must be a list of ${TAG_PARTS.join(', ')}` });
  else if (new Set(rule.parts).size !== rule.parts.length) problems.push({ field: `${field}.parts`, message: 'must not repeat a part' });
  else if (rule.parts.length === 0 && rule.prefix === '') problems.push({ field: `${field}.parts`, message: 'needs at least one part when there is no prefix' });
  if (!Number.isInteger(rule.commitLength) || rule.commitLength < 4 || rule.commitLength > 40) problems.push({ field: `${field}.commitLength`, message: 'must be a whole number from 4 to 40' });
  if (typeof rule.timeFormat !== 'string' || rule.timeFormat.length === 0 || !/^[A-Za-z0-9_.-]+$/.test(rule.timeFormat.replace(TIME_TOKEN_RE, '0')))
    problems.push({ field: `${field}.timeFormat`, message: 'may contain only the tokens YYYY MM DD HH mm ss and the characters A-Z a-z 0-9 _ . -' });
  else if (!TIME_TOKEN_RE.test(rule.timeFormat)) problems.push({ field: `${field}.timeFormat`, message: 'must contain at least one of YYYY MM DD HH mm ss' });
  TIME_TOKEN_RE.lastIndex = 0;
  if (!isTimeZone(rule.timeZone)) problems.push({ field: `${field}.timeZone`, message: `unknown time zone ${String(rule.timeZone)}` });
  if (problems.length === 0) {
    const fixed = fixedLength(rule as NormalizedTagRule);
    const room = rule.parts.includes('ref') ? HASH_LENGTH + 2 : 0;
    if (fixed + room > MAX_TAG_LENGTH) problems.push({ field, message: `the tag would be longer than ${MAX_TAG_LENGTH} characters; shorten the prefix or time format` });
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return rule as NormalizedTagRule;
}

export interface TagInput {
  /** Branch or tag name as pushed (`feature/login-v2`), or the short commit for a bare commit build. */
  refName: string;
  commit: string;
  /** When the tag is applied. */
  time: Date;
}

export function renderTag(rule: NormalizedTagRule, input: TagInput): string {
  const segments: string[] = [];
  if (rule.prefix) segments.push(rule.prefix);
  const fixed = fixedLength(rule);
  for (const part of rule.parts) {
    if (part === 'time') segments.push(formatTime(input.time, rule.timeFormat, rule.timeZone));
    if (part === 'commit') segments.push(input.commit.slice(0, rule.commitLength).toLowerCase());
    if (part === 'ref') segments.push(sanitizeRefName(input.refName, MAX_TAG_LENGTH - fixed - (segments.length > 0 || rule.parts.length > 1 ? 1 : 0)));
  }
  const tag = segments.join('-');
  if (!OCI_TAG_RE.test(tag)) throw new Error(`bug: rendered tag ${JSON.stringify(tag)} is not a valid OCI tag`);
  return tag;
}

/**
 * Make a ref name tag-safe. A name that is already a valid tag is kept as it is; any change loses information (a
 * `/` made `-` included: `feature/x` and `feature-x` would otherwise share `feature-x`), so the result then carries a
 * short hash of the original name (`feature/login-v2` → `feature-login-v2-<8 hex>`): two different refs never
 * silently share a tag.
 */
export function sanitizeRefName(name: string, maxLength = MAX_TAG_LENGTH): string {
  let safe = name
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+/, '')
    .replace(/[.-]+$/, '');
  const lossy = safe !== name;
  if (!lossy && safe.length <= maxLength) return safe;
  const hash = fnv1a32(name);
  safe = safe.slice(0, Math.max(0, maxLength - HASH_LENGTH - 1)).replace(/[.-]+$/, '');
  return safe ? `${safe}-${hash}` : hash;
}

function fixedLength(rule: NormalizedTagRule): number {
  let n = rule.prefix.length;
  for (const part of rule.parts) {
    if (part === 'time') n += rule.timeFormat.replace(TIME_TOKEN_RE, (t) => '0'.repeat(t.length)).length;
    if (part === 'commit') n += rule.commitLength;
  }
  const segments = rule.parts.length + (rule.prefix ? 1 : 0);
  return n + Math.max(0, segments - 1);
}

export function formatTime(time: Date, format: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(time);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const values: Record<string, string> = {
    YYYY: get('year').padStart(4, '0'),
    MM: get('month'),
    DD: get('day'),
    HH: get('hour'),
    mm: get('minute'),
    ss: get('second'),
  };
  return format.replace(TIME_TOKEN_RE, (token) => values[token]);
}

function isTimeZone(zone: unknown): boolean {
  if (typeof zone !== 'string' || zone.length === 0) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** FNV-1a, 32 bits, as 8 hex digits: stable, dependency-free (this module also runs in workflow bundles). */
export function fnv1a32(text: string): string {
  return hex32(fnv1a32Continue(FNV_OFFSET, text));
}

export const FNV_OFFSET = 0x811c9dc5;

const hex32 = (hash: number): string => hash.toString(16).padStart(8, '0');

/**
 * FNV-1a over the UTF-8 bytes of `text`, continuing from `hash`, encoded on the fly: no byte array is allocated
 * (webhook-ingest derives an id per delivery, and a TextEncoder buffer per hash cost more than the hashing).
 * Lone surrogates hash as U+FFFD, as TextEncoder encodes them.
 */
export function fnv1a32Continue(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else c = 0xfffd;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
    } else {
      if (c < 0x10000) h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      else {
        h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 0x01000193);
      }
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193);
  }
  return h >>> 0;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
