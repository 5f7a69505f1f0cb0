import { codingPing, codingPush, forge, giteePing, giteePush, githubPing, githubPush, gitlabPush, Host, HostDelivery, HOSTS, PushFacts, pushFor } from '@kiln/testing';
import { codingAdapter } from './coding';
import { createGiteeAdapter, giteeSignature } from './gitee';
import { githubAdapter } from './github';
import { gitlabAdapter } from './gitlab';
import type { Delivery, Outcome, ProviderAdapter } from './types';

const SECRET = 'kiln-webhook-secret';
const NOW = 1_795_000_000_000;
const adapters: Record<Host, ProviderAdapter> = { github: githubAdapter, gitlab: gitlabAdapter, gitee: createGiteeAdapter(() => NOW), coding: codingAdapter };
const sha = (c: string) => c.repeat(40);
const commit = (id: string, message = 'Add greeting') => ({ id, message, timestamp: '2026-11-27T16:30:15+08:00', authorName: 'Ada', authorEmail: 'ada@example.com' });
const base: PushFacts = { repo: 'acme/hello', ref: 'refs/heads/main', before: sha('a'), after: sha('b'), commit: commit(sha('b')), cloneUrl: 'https://git.example/acme/hello.git' };

function toDelivery(d: HostDelivery): Delivery {
  return { sourceId: 's', headers: d.headers, rawBody: Buffer.from(d.body, 'utf8'), contentType: d.headers['content-type'] };
}

function read(host: Host, facts: PushFacts, d?: HostDelivery): Outcome {
  const delivery = d ?? (host === 'gitee' ? giteePush(facts, SECRET, { signed: true, timestamp: NOW }) : pushFor[host](facts, SECRET));
  return adapters[host].read(toDelivery(delivery), SECRET);
}

function event(out: Outcome) {
  if (out.kind !== 'event') throw new Error(`expected an event, got ${JSON.stringify(out)}`);
  return out.event;
}

describe.each(HOSTS)('%s deliveries', (host) => {
  it('normalizes a branch push', () => {
    expect(event(read(host, base))).toMatchObject({
      provider: host,
      kind: 'push',
      ref: 'refs/heads/main',
      refType: 'branch',
      name: 'main',
      before: sha('a'),
      after: sha('b'),
      commitSha: sha('b'),
      created: false,
      deleted: false,
      repoFullName: 'acme/hello',
      cloneUrl: 'https://git.example/acme/hello.git',
      defaultBranch: 'main',
      headCommit: { id: sha('b'), message: 'Add greeting', authorName: 'Ada', authorEmail: 'ada@example.com', timestamp: '2026-11-27T08:30:15.000Z' },
      pusher: 'ada',
    });
  });

  it('marks a new branch with a slash as created and keeps the slash in the name', () => {
    expect(event(read(host, { ...base, ref: 'refs/heads/feature/login-v2', before: sha('0') }))).toMatchObject({
      refType: 'branch',
      name: 'feature/login-v2',
      created: true,
      deleted: false,
      before: sha('0'),
    });
  });

  it('builds the commit a tag points at (annotated: after is the tag object)', () => {
    const e = event(read(host, { ...base, ref: 'refs/tags/v1.2.0', before: sha('0'), after: sha('c'), commit: commit(sha('d')) }));
    expect(e).toMatchObject({ refType: 'tag', name: 'v1.2.0', created: true, after: sha('c'), commitSha: sha('d') });
  });

  it('reads a lightweight tag push, where after is the commit', () => {
    expect(event(read(host, { ...base, ref: 'refs/tags/v1', before: sha('0') }))).toMatchObject({ refType: 'tag', commitSha: sha('b') });
  });

  it.each([
    ['a branch deletion', 'refs/heads/old'],
    ['a tag deletion', 'refs/tags/v0'],
  ])('reads %s: deleted, no commit to build, 40 zeros', (_t, ref) => {
    expect(event(read(host, { ...base, ref, after: sha('0'), commit: null }))).toMatchObject({ ref, deleted: true, after: sha('0'), commitSha: null, headCommit: null });
  });

  it('keeps a unicode commit message exactly', () => {
    const message = '修复登录 🐛\n\nÜmlaut — and "quotes"';
    expect(event(read(host, { ...base, commit: commit(sha('b'), message) })).headCommit?.message).toBe(message);
  });

  it('refuses a wrong signature or token with 401', () => {
    const good = host === 'gitee' ? giteePush(base, SECRET, { signed: true, timestamp: NOW }) : pushFor[host](base, SECRET);
    expect(read(host, base, forge(host, good))).toMatchObject({ kind: 'refused', status: 401 });
    expect(adapters[host].read(toDelivery(good), 'another-secret')).toMatchObject({ kind: 'refused', status: 401 });
  });

  it('gives the same delivery the same delivery id, so a repeat is recognised', () => {
    const d = host === 'gitee' ? giteePush(base, SECRET, { signed: true, timestamp: NOW }) : pushFor[host](base, SECRET);
    const a = read(host, base, d);
    const b = read(host, base, d);
    expect(a.kind === 'event' && b.kind === 'event' && a.deliveryId === b.deliveryId).toBe(true);
  });
});

describe('host differences', () => {
  it('answers pings and test deliveries', () => {
    expect(githubAdapter.read(toDelivery(githubPing(SECRET)), SECRET).kind).toBe('ping');
    expect(codingAdapter.read(toDelivery(codingPing(SECRET)), SECRET).kind).toBe('ping');
    expect(createGiteeAdapter().read(toDelivery(giteePing(SECRET)), SECRET).kind).toBe('ping');
    // GitLab's "test" button sends an ordinary push.
    expect(gitlabAdapter.read(toDelivery(gitlabPush(base, SECRET)), SECRET).kind).toBe('event');
  });

  it('reads the form-encoded variants of GitHub and CODING, signed over the raw form body', () => {
    expect(event(githubAdapter.read(toDelivery(githubPush(base, SECRET, { form: true })), SECRET)).commitSha).toBe(sha('b'));
    expect(event(codingAdapter.read(toDelivery(codingPush(base, SECRET, { form: true })), SECRET)).commitSha).toBe(sha('b'));
  });

  it('keeps GitLab subgroups in the repository name and builds checkout_sha', () => {
    const e = event(gitlabAdapter.read(toDelivery(gitlabPush({ ...base, repo: 'group/sub/app', ref: 'refs/tags/v2', after: sha('e'), commit: commit(sha('f')) }, SECRET)), SECRET));
    expect(e).toMatchObject({ repoFullName: 'group/sub/app', commitSha: sha('f'), refType: 'tag' });
  });

  it('derives created and deleted from zero SHAs on GitLab, which sends no flags', () => {
    expect(event(gitlabAdapter.read(toDelivery(gitlabPush({ ...base, before: sha('0') }, SECRET)), SECRET))).toMatchObject({ created: true, deleted: false });
  });

  it('accepts the Gitee password, a signed token and a URL-encoded signed token; treats shortened zeros as zero', () => {
    const gitee = createGiteeAdapter(() => NOW);
    expect(gitee.read(toDelivery(giteePush(base, SECRET, { timestamp: NOW })), SECRET).kind).toBe('event');
    expect(gitee.read(toDelivery(giteePush(base, SECRET, { signed: true, timestamp: NOW, urlEncode: true })), SECRET).kind).toBe('event');
    const e = event(gitee.read(toDelivery(giteePush({ ...base, before: sha('0') }, SECRET, { signed: true, timestamp: NOW, shortZero: true })), SECRET));
    expect(e).toMatchObject({ before: sha('0'), created: true });
  });

  it.each([
    ['path_with_namespace', (b: Record<string, unknown>) => b],
    ['the namespace and repository paths', (b: Record<string, unknown>) => ({ ...b, repository: { ...(b.repository as object), path_with_namespace: undefined } })],
    [
      'the namespace object and repository path',
      (b: Record<string, unknown>) => ({ ...b, repository: { ...(b.repository as object), path_with_namespace: undefined, namespace: { path: 'oschina', name: 'OSCHINA' } } }),
    ],
  ])('names a Gitee repository by its path, not its display name, from %s', (_from, edit) => {
    const gitee = createGiteeAdapter(() => NOW);
    const d = giteePush({ ...base, repo: 'oschina/gitee' }, SECRET, { signed: true, timestamp: NOW, displayName: 'OSCHINA/码云' });
    const body = JSON.stringify(edit(JSON.parse(d.body) as Record<string, unknown>));
    expect(event(gitee.read({ ...toDelivery(d), rawBody: Buffer.from(body, 'utf8') }, SECRET)).repoFullName).toBe('oschina/gitee');
  });

  it('computes the Gitee signature as its documentation does', () => {
    // Computed with Python's hmac from the recipe in Gitee's help (its Python example): base64(hmac(secret, ts + "\\n" + secret)).
    expect(giteeSignature('this is secret', '1576754827988')).toBe('2D978FIy4DMMTbiN80zQkNH1Eq/kMBt3gL6OnWfGzzY=');
  });

  it('refuses a Gitee signed token outside the one-hour window', () => {
    const gitee = createGiteeAdapter(() => NOW);
    const old = giteePush(base, SECRET, { signed: true, timestamp: NOW - 2 * 60 * 60 * 1000 });
    expect(gitee.read(toDelivery(old), SECRET)).toMatchObject({ kind: 'refused', status: 401, reason: expect.stringContaining('window') });
  });

  it('gives Gitee deliveries a replay key from token and timestamp', () => {
    const gitee = createGiteeAdapter(() => NOW);
    const a = gitee.read(toDelivery(giteePush(base, SECRET, { signed: true, timestamp: NOW })), SECRET);
    const b = gitee.read(toDelivery(giteePush({ ...base, ref: 'refs/heads/other' }, SECRET, { signed: true, timestamp: NOW })), SECRET);
    expect(a.kind === 'event' && b.kind === 'event').toBe(true);
    if (a.kind === 'event' && b.kind === 'event') {
      expect(a.replayKey).toBe(b.replayKey);
      expect(a.deliveryId).not.toBe(b.deliveryId);
    }
  });

  it('ignores event types Kiln does not use, and refuses unreadable bodies with 400', () => {
    const mr = { ...githubPush(base, SECRET), headers: { ...githubPush(base, SECRET).headers } };
    mr.headers['x-github-event'] = 'pull_request';
    expect(githubAdapter.read(toDelivery(mr), SECRET).kind).toBe('ignored');
    const bad = gitlabPush(base, SECRET);
    expect(gitlabAdapter.read({ ...toDelivery(bad), rawBody: Buffer.from('{oops') }, SECRET)).toMatchObject({ kind: 'refused', status: 400 });
  });
});
