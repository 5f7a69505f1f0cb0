import { createHmac } from 'node:crypto';
import { githubAdapter, verifyGithubSignature } from './github';
import type { Delivery } from './types';

const SECRET = "It's a Secret to Everybody";
const sha = (c: string) => c.repeat(40);

function delivery(body: unknown, opts: { event?: string; form?: boolean; signature?: string; raw?: string } = {}): Delivery {
  const json = opts.raw ?? JSON.stringify(body);
  const raw = Buffer.from(opts.form ? `payload=${encodeURIComponent(json)}` : json, 'utf8');
  return {
    sourceId: 's1',
    contentType: opts.form ? 'application/x-www-form-urlencoded' : 'application/json',
    rawBody: raw,
    headers: {
      'x-github-event': opts.event ?? 'push',
      'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'x-hub-signature-256': opts.signature ?? 'sha256=' + createHmac('sha256', SECRET).update(raw).digest('hex'),
    },
  };
}

const push = (over: Record<string, unknown> = {}) => ({
  ref: 'refs/heads/feature/login',
  before: sha('a'),
  after: sha('b'),
  created: false,
  deleted: false,
  repository: { full_name: 'Octo-Org/Hello-World', clone_url: 'https://github.com/Octo-Org/Hello-World.git', ssh_url: 'git@github.com:Octo-Org/Hello-World.git', default_branch: 'main' },
  head_commit: { id: sha('b'), message: 'Fix 登录\n\nwith a body', timestamp: '2026-11-27T16:30:15+08:00', author: { name: 'Ada', email: 'ada@example.com' } },
  pusher: { name: 'ada' },
  ...over,
});

describe('GitHub signature', () => {
  it('matches the example GitHub documents', () => {
    // docs.github.com "Validating webhook deliveries": secret and payload below give this signature.
    const body = Buffer.from('Hello, World!');
    expect(verifyGithubSignature(body, SECRET, 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17')).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['without the sha256= prefix', '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'],
    ['of another body', 'sha256=' + createHmac('sha256', SECRET).update('other').digest('hex')],
    ['truncated', 'sha256=757107ea'],
  ])('refuses a signature %s', (_t, header) => {
    expect(verifyGithubSignature(Buffer.from('Hello, World!'), SECRET, header)).toBe(false);
  });
});

describe('GitHub deliveries', () => {
  it('normalizes a branch push with a slash and a unicode message', () => {
    const out = githubAdapter.read(delivery(push()), SECRET);
    expect(out).toEqual({
      kind: 'event',
      deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      event: {
        provider: 'github',
        deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
        kind: 'push',
        ref: 'refs/heads/feature/login',
        refType: 'branch',
        name: 'feature/login',
        before: sha('a'),
        after: sha('b'),
        commitSha: sha('b'),
        created: false,
        deleted: false,
        repoFullName: 'Octo-Org/Hello-World',
        cloneUrl: 'https://github.com/Octo-Org/Hello-World.git',
        sshUrl: 'git@github.com:Octo-Org/Hello-World.git',
        defaultBranch: 'main',
        headCommit: { id: sha('b'), message: 'Fix 登录\n\nwith a body', authorName: 'Ada', authorEmail: 'ada@example.com', timestamp: '2026-11-27T08:30:15.000Z' },
        pusher: 'ada',
      },
    });
  });

  it('reads the form-encoded variant, verifying the signature over the raw form body', () => {
    const out = githubAdapter.read(delivery(push(), { form: true }), SECRET);
    expect(out.kind).toBe('event');
  });

  it('builds the commit an annotated tag points at, not the tag object', () => {
    const out = githubAdapter.read(delivery(push({ ref: 'refs/tags/v1.0.0', before: sha('0'), after: sha('c'), created: true, head_commit: { id: sha('d'), message: 'm' } })), SECRET);
    expect(out.kind === 'event' && out.event).toMatchObject({ refType: 'tag', name: 'v1.0.0', after: sha('c'), commitSha: sha('d'), created: true });
  });

  it('marks a deletion and names no commit to build', () => {
    const out = githubAdapter.read(delivery(push({ after: '0000000', deleted: true, head_commit: null })), SECRET);
    expect(out.kind === 'event' && out.event).toMatchObject({ deleted: true, after: sha('0'), commitSha: null, headCommit: null });
  });

  it('answers a ping and ignores events Kiln does not use', () => {
    expect(githubAdapter.read(delivery({ zen: 'Keep it logically awesome.' }, { event: 'ping' }), SECRET).kind).toBe('ping');
    expect(githubAdapter.read(delivery({ action: 'opened' }, { event: 'issues' }), SECRET)).toMatchObject({ kind: 'ignored' });
  });

  it('refuses a wrong signature before reading the body', () => {
    expect(githubAdapter.read(delivery(push(), { signature: 'sha256=' + '0'.repeat(64) }), SECRET)).toMatchObject({ kind: 'refused', status: 401 });
    expect(githubAdapter.read(delivery(push(), { signature: undefined }), 'another secret')).toMatchObject({ kind: 'refused', status: 401 });
  });

  it('refuses a signed body that is not a push payload', () => {
    expect(githubAdapter.read(delivery(null, { raw: '{not json' }), SECRET)).toMatchObject({ kind: 'refused', status: 400 });
    expect(githubAdapter.read(delivery({ hello: 'world' }), SECRET)).toMatchObject({ kind: 'refused', status: 400 });
  });
});
