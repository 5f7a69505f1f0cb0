import {
  ValidationError,
  compileRefPattern,
  deterministicId,
  fnv1a32,
  isZeroSha,
  matchTrigger,
  normalizeSha,
  normalizeTagRule,
  OCI_TAG_RE,
  parseRef,
  renderTag,
  repositoryNameProblem,
  sanitizeRefName,
  Trigger,
  cloneUrlFor,
  UUID_RE,
} from './index';

describe('parseRef', () => {
  it.each([
    ['a branch', 'refs/heads/main', 'branch', 'main'],
    ['a branch with a slash', 'refs/heads/feature/login', 'branch', 'feature/login'],
    ['a tag', 'refs/tags/v1.2.0', 'tag', 'v1.2.0'],
    ['anything else', 'refs/pull/1/head', 'other', 'refs/pull/1/head'],
  ])('reads %s', (_title, ref, type, name) => {
    expect(parseRef(ref)).toEqual({ ref, type, name });
  });
});

describe('zero SHAs', () => {
  it.each([
    ['40 zeros', '0'.repeat(40), true],
    ['a shortened zero', '00000000', true],
    ['a real sha', '3f2a9c1d', false],
    ['empty', '', false],
  ])('%s is zero: %s', (_t, sha, zero) => {
    expect(isZeroSha(sha)).toBe(zero);
  });

  it('normalizes any all-zero SHA to 40 zeros', () => {
    expect(normalizeSha('00000000')).toBe('0'.repeat(40));
    expect(normalizeSha('ABCDEF1')).toBe('abcdef1');
  });
});

describe('matchTrigger', () => {
  const cases: Array<[string, Trigger, string, boolean, boolean]> = [
    ['branch fires on its branch', { type: 'branch', branch: 'main' }, 'refs/heads/main', false, true],
    ['branch ignores another branch', { type: 'branch', branch: 'main' }, 'refs/heads/dev', false, false],
    ['branch ignores a tag of the same name', { type: 'branch', branch: 'main' }, 'refs/tags/main', false, false],
    ['branch with a slash fires', { type: 'branch', branch: 'release/1.x' }, 'refs/heads/release/1.x', false, true],
    ['tag fires on a tag', { type: 'tag' }, 'refs/tags/v1', false, true],
    ['tag ignores a branch', { type: 'tag' }, 'refs/heads/v1', false, false],
    ['anyBranch fires on any branch', { type: 'anyBranch' }, 'refs/heads/x/y', false, true],
    ['anyBranch ignores tags', { type: 'anyBranch' }, 'refs/tags/v1', false, false],
    ['refRegex fires on a match', { type: 'refRegex', pattern: '^refs/heads/(master|release/.*)$' }, 'refs/heads/release/2', false, true],
    ['refRegex ignores a non-match', { type: 'refRegex', pattern: '^refs/heads/master$' }, 'refs/heads/main', false, false],
    ['deletions never build', { type: 'anyBranch' }, 'refs/heads/main', true, false],
  ];
  it.each(cases)('%s', (_t, trigger, ref, deleted, matched) => {
    const decision = matchTrigger(trigger, { ref, deleted });
    expect(decision.matched).toBe(matched);
    if (!matched) expect(decision.reason).toEqual(expect.any(String));
  });

  it('refuses a pattern RE2 cannot run, naming the field', () => {
    expect(() => compileRefPattern('(a)\\1')).toThrow(ValidationError);
    try {
      compileRefPattern('(?=x)');
    } catch (err) {
      expect((err as ValidationError).fields?.[0].field).toBe('trigger.pattern');
    }
  });
});

describe('tag rules', () => {
  const at = new Date('2026-11-27T08:30:15Z');
  const commit = '3f2a9c1d0e5b7a8c9d0e1f2a3b4c5d6e7f8a9b0c';

  it.each([
    ['prefix + ref + time + commit', { prefix: 'web', parts: ['ref', 'time', 'commit'] }, 'main', 'web-main-20261127083015-3f2a9c1'],
    ['a slash becomes a dash, with the hash of the ref', { parts: ['ref'] }, 'feature/login-v2', 'feature-login-v2-4ae81922'],
    ['a ref that is already a tag, unchanged', { parts: ['ref'] }, 'release-1.x', 'release-1.x'],
    ['commit only, longer', { parts: ['commit'], commitLength: 12 }, 'main', '3f2a9c1d0e5b'],
    ['time in another zone and format', { parts: ['time'], timeFormat: 'YYYY.MM.DD-HH', timeZone: 'Asia/Shanghai' }, 'main', '2026.11.27-16'],
    ['prefix alone', { prefix: 'latest', parts: [] }, 'main', 'latest'],
  ] as const)('renders %s', (_t, rule, refName, expected) => {
    expect(renderTag(normalizeTagRule(rule as never), { refName, commit, time: at })).toBe(expected);
  });

  it('gives unicode refs a tag-safe name with a hash, so different refs differ', () => {
    const a = sanitizeRefName('功能/登录');
    const b = sanitizeRefName('功能/注册');
    expect(a).toMatch(OCI_TAG_RE);
    expect(b).toMatch(OCI_TAG_RE);
    expect(a).not.toBe(b);
    expect(sanitizeRefName('feat/登录-v2')).toMatch(/^feat-v2-[0-9a-f]{8}$/);
  });

  it.each([
    ['feature/x', 'feature-x'],
    ['a/b', 'a-b'],
    ['fix//x', 'fix-x'],
    ['v1.0/rc', 'v1.0-rc'],
  ])('never renders %s and %s as one tag', (lossy, plain) => {
    const rule = normalizeTagRule({ prefix: 'web', parts: ['ref'] });
    expect(renderTag(rule, { refName: lossy, commit, time: at })).not.toBe(renderTag(rule, { refName: plain, commit, time: at }));
    expect(renderTag(rule, { refName: plain, commit, time: at })).toBe(`web-${plain}`);
  });

  it('keeps very long refs within 128 characters and distinct', () => {
    const rule = normalizeTagRule({ prefix: 'p', parts: ['ref', 'time', 'commit'] });
    const long1 = 'x'.repeat(300) + '1';
    const long2 = 'x'.repeat(300) + '2';
    const t1 = renderTag(rule, { refName: long1, commit, time: at });
    const t2 = renderTag(rule, { refName: long2, commit, time: at });
    expect(t1.length).toBeLessThanOrEqual(128);
    expect(t1).toMatch(OCI_TAG_RE);
    expect(t1).not.toBe(t2);
  });

  it.each([
    ['a prefix starting with a dash', { prefix: '-x', parts: ['ref'] }, 'tagRule.prefix'],
    ['an unknown part', { parts: ['branch'] }, 'tagRule.parts'],
    ['no parts and no prefix', { parts: [] }, 'tagRule.parts'],
    ['an unknown time zone', { timeZone: 'Mars/Base' }, 'tagRule.timeZone'],
    ['a time format with a slash', { timeFormat: 'YYYY/MM' }, 'tagRule.timeFormat'],
    ['a commit length of 2', { commitLength: 2 }, 'tagRule.commitLength'],
    ['a prefix too long to ever fit', { prefix: 'a'.repeat(130), parts: ['ref'] }, 'tagRule'],
  ])('refuses %s', (_t, rule, field) => {
    try {
      normalizeTagRule(rule as never);
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).fields?.map((f) => f.field)).toContain(field);
    }
  });
});

describe('repository names', () => {
  it.each([
    ['demo', 'hello', null],
    ['my-team', 'web.app_v2', null],
    ['Demo', 'hello', 'namespace'],
    ['demo', 'hello/world', 'repository'],
    ['demo', '-x', 'repository'],
  ])('%s/%s', (ns, name, problem) => {
    const found = repositoryNameProblem(ns, name);
    if (problem === null) expect(found).toBeNull();
    else expect(found).toContain(problem);
  });
});

describe('ids and urls', () => {
  it('derives the same UUID-shaped id from the same key, and another from another key', () => {
    expect(deterministicId('r1:e1')).toMatch(UUID_RE);
    expect(deterministicId('r1:e1')).toBe(deterministicId('r1:e1'));
    expect(deterministicId('r1:e1')).not.toBe(deterministicId('r1:e2'));
    // Stored ids (build records, ledger entries) must come out the same in every release: pinned values.
    expect(deterministicId('github:1b2c:ünïcode')).toBe('2dbec730-752a-5293-987a-8eaef9ad3e91');
    expect(deterministicId('github:5e6f2c1a-8a8e-4f0e-9d55-0d3c1b0f2b11:72d3162e-cc78-11e3-81ab-4c9367dc0958')).toBe('0ec60ce0-0090-5751-b8f0-133ecfaa1be7');
    expect(fnv1a32('feature/ünï-x')).toBe('fa1fea52');
    expect(fnv1a32('')).toBe('811c9dc5');
  });

  it('hashes exactly the UTF-8 bytes TextEncoder gives, for every kind of code point, and ids come out as released', () => {
    const reference = (text: string) => {
      let h = 0x811c9dc5;
      for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      return h.toString(16).padStart(8, '0');
    };
    // ASCII, 2-byte, 3-byte, astral (surrogate pairs), and lone surrogates (TextEncoder writes U+FFFD for those).
    const samples = ['a', 'ÿ', 'ߟ', 'ࠀ', '中文', '\uffff', '😀', '\u{10ffff}', '\ud800', 'x\udc00y', '\ud83d', 'é\ud83dé', '\udc00\ud800'];
    for (const s of samples) expect(fnv1a32(s)).toBe(reference(s));
    let seed = 7;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 500; n++) {
      const text = Array.from({ length: Math.floor(rand() * 12) }, () => String.fromCharCode(Math.floor(rand() * 0x10000))).join('');
      expect(fnv1a32(text)).toBe(reference(text));
      // The id as first released: four hashes of salted keys, sliced into UUID layout.
      const hex = [0, 1, 2, 3].map((i) => reference(`${i}:${text}`)).join('');
      const released = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
      expect(deterministicId(text)).toBe(released);
    }
  });

  it('builds clone URLs from the source base URL', () => {
    expect(cloneUrlFor('github', 'http://127.0.0.1:9000/', 'acme/hello')).toBe('http://127.0.0.1:9000/acme/hello.git');
    expect(cloneUrlFor('github', null, 'acme/hello.git')).toBe('https://github.com/acme/hello.git');
    expect(cloneUrlFor('git', null, 'https://git.example/x.git')).toBe('https://git.example/x.git');
  });
});
