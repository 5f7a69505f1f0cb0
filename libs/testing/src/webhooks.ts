import { createHmac, randomUUID } from 'node:crypto';

/** A push as the host saw it: the facts every host's payload is built from. */
export interface PushFacts {
  /** owner/name (GitLab: group/subgroup/name). */
  repo: string;
  ref: string;
  before: string;
  after: string;
  /** The commit a tag points at, when `after` is an annotated tag object. */
  commit?: { id: string; message: string; timestamp: string; authorName: string; authorEmail: string } | null;
  cloneUrl: string;
}

export interface HostDelivery {
  headers: Record<string, string>;
  body: string;
  deliveryId: string;
}

export type Host = 'github' | 'gitlab' | 'gitee' | 'coding';
export const HOSTS: Host[] = ['github', 'gitlab', 'gitee', 'coding'];

const zero = (sha: string) => /^0+$/.test(sha);

function githubStylePayload(p: PushFacts, extra: Record<string, unknown> = {}) {
  const [owner, name] = [p.repo.split('/').slice(0, -1).join('/'), p.repo.split('/').pop()];
  const commit = p.commit
    ? {
        id: p.commit.id,
        tree_id: 'f'.repeat(40),
        distinct: true,
        message: p.commit.message,
        timestamp: p.commit.timestamp,
        url: `${p.cloneUrl}/commit/${p.commit.id}`,
        author: { name: p.commit.authorName, email: p.commit.authorEmail, username: 'ada' },
        committer: { name: p.commit.authorName, email: p.commit.authorEmail },
        added: [],
        removed: [],
        modified: ['hello.txt'],
      }
    : null;
  return {
    ref: p.ref,
    before: p.before,
    after: p.after,
    created: zero(p.before),
    deleted: zero(p.after),
    forced: false,
    base_ref: null,
    compare: `${p.cloneUrl.replace(/\.git$/, '')}/compare/${p.before.slice(0, 12)}...${p.after.slice(0, 12)}`,
    commits: commit ? [commit] : [],
    head_commit: commit,
    repository: { id: 1296269, name, full_name: p.repo, owner: { login: owner, name: owner }, private: false, clone_url: p.cloneUrl, ssh_url: `git@example.com:${p.repo}.git`, default_branch: 'main' },
    pusher: { name: 'ada', email: 'ada@example.com' },
    sender: { login: 'ada', id: 2 },
    ...extra,
  };
}

/**
 * A push the way GitHub and CODING send it: the payload as JSON or as a form's `payload` field, signed over the exact
 * body (`sign` names the signature header and its value), with the host's event and delivery headers.
 */
function githubStyleDelivery(
  payload: unknown,
  o: { deliveryId?: string; form?: boolean },
  headers: (deliveryId: string) => Record<string, string>,
  sign: (body: string) => [string, string],
): HostDelivery {
  const json = JSON.stringify(payload);
  const body = o.form ? `payload=${encodeURIComponent(json)}` : json;
  const deliveryId = o.deliveryId ?? randomUUID();
  const [header, signature] = sign(body);
  return { deliveryId, body, headers: { 'content-type': o.form ? 'application/x-www-form-urlencoded' : 'application/json', ...headers(deliveryId), [header]: signature } };
}

/** GitHub: webhook-events-and-payloads#push; X-Hub-Signature-256 over the exact body; JSON or form. */
export function githubPush(p: PushFacts, secret: string, o: { deliveryId?: string; form?: boolean } = {}): HostDelivery {
  return githubStyleDelivery(
    githubStylePayload(p),
    o,
    (id) => ({ 'user-agent': 'GitHub-Hookshot/f1aa6e4', 'x-github-event': 'push', 'x-github-delivery': id }),
    (body) => ['x-hub-signature-256', 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')],
  );
}

export function githubPing(secret: string): HostDelivery {
  const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 1, hook: { type: 'Repository', events: ['push'] } });
  const deliveryId = randomUUID();
  return {
    deliveryId,
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'ping',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', secret).update(body).digest('hex'),
    },
  };
}

/** GitLab: Push Hook / Tag Push Hook; the plain secret in X-Gitlab-Token; Idempotency-Key; checkout_sha. */
export function gitlabPush(p: PushFacts, secret: string, o: { deliveryId?: string } = {}): HostDelivery {
  const tag = p.ref.startsWith('refs/tags/');
  const commit = p.commit
    ? {
        id: p.commit.id,
        message: p.commit.message,
        title: p.commit.message.split('\n')[0],
        timestamp: p.commit.timestamp,
        url: `${p.cloneUrl}/-/commit/${p.commit.id}`,
        author: { name: p.commit.authorName, email: p.commit.authorEmail },
        added: [],
        modified: ['hello.txt'],
        removed: [],
      }
    : null;
  const payload = {
    object_kind: tag ? 'tag_push' : 'push',
    event_name: tag ? 'tag_push' : 'push',
    before: p.before,
    after: p.after,
    ref: p.ref,
    ref_protected: false,
    checkout_sha: zero(p.after) ? null : (p.commit?.id ?? p.after),
    user_id: 4,
    user_name: 'Ada Lovelace',
    user_username: 'ada',
    user_email: '',
    project_id: 15,
    project: {
      id: 15,
      name: p.repo.split('/').pop(),
      path_with_namespace: p.repo,
      default_branch: 'main',
      web_url: p.cloneUrl.replace(/\.git$/, ''),
      git_http_url: p.cloneUrl,
      git_ssh_url: `git@gitlab.example.com:${p.repo}.git`,
    },
    commits: commit ? [commit] : [],
    total_commits_count: commit ? 1 : 0,
    repository: { name: p.repo.split('/').pop(), url: `git@gitlab.example.com:${p.repo}.git`, git_http_url: p.cloneUrl, git_ssh_url: `git@gitlab.example.com:${p.repo}.git` },
  };
  const deliveryId = o.deliveryId ?? randomUUID();
  return {
    deliveryId,
    body: JSON.stringify(payload),
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitLab/18.6.0',
      'x-gitlab-event': tag ? 'Tag Push Hook' : 'Push Hook',
      'x-gitlab-token': secret,
      'x-gitlab-event-uuid': deliveryId,
      'idempotency-key': deliveryId,
      'x-gitlab-instance': 'https://gitlab.example.com',
    },
  };
}

/** GitLab's "test" button sends an ordinary push. */
export const gitlabTest = gitlabPush;

/** Gitee: X-Gitee-Token is the password, or Base64(HMAC-SHA256(secret, "<ts>\n<secret>")) URL-encoded. */
export function giteePush(p: PushFacts, secret: string, o: { signed?: boolean; timestamp?: number; urlEncode?: boolean; shortZero?: boolean; displayName?: string } = {}): HostDelivery {
  const ts = String(o.timestamp ?? Date.now());
  const sign = createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64');
  const short = (sha: string) => (o.shortZero && zero(sha) ? '00000000' : sha);
  const payload = {
    hook_name: p.ref.startsWith('refs/tags/') ? 'tag_push_hooks' : 'push_hooks',
    hook_id: 1,
    password: o.signed ? '' : secret,
    timestamp: ts,
    sign: o.signed ? sign : '',
    ...githubStylePayload(
      { ...p, before: short(p.before), after: short(p.after) },
      {
        repository: {
          id: 1,
          name: (o.displayName ?? p.repo).split('/').pop(),
          path: p.repo.split('/').pop(),
          namespace: p.repo.split('/')[0],
          full_name: o.displayName ?? p.repo,
          path_with_namespace: p.repo,
          clone_url: p.cloneUrl,
          git_http_url: p.cloneUrl,
          ssh_url: `git@gitee.com:${p.repo}.git`,
          default_branch: 'main',
        },
      },
    ),
    pusher: { id: 1, name: 'Ada', login: 'ada', username: 'ada', email: 'ada@example.com' },
  };
  const token = o.signed ? (o.urlEncode ? encodeURIComponent(sign) : sign) : secret;
  return {
    deliveryId: '',
    body: JSON.stringify(payload),
    headers: {
      'content-type': 'application/json',
      'user-agent': 'git-oschina-hook',
      'x-gitee-token': token,
      'x-gitee-timestamp': ts,
      'x-gitee-event': p.ref.startsWith('refs/tags/') ? 'Tag Push Hook' : 'Push Hook',
    },
  };
}

export function giteePing(secret: string): HostDelivery {
  const ts = String(Date.now());
  return {
    deliveryId: '',
    body: JSON.stringify({ hook_name: 'push_hooks', password: secret, timestamp: ts }),
    headers: { 'content-type': 'application/json', 'user-agent': 'git-oschina-hook', 'x-gitee-token': secret, 'x-gitee-timestamp': ts, 'x-gitee-ping': 'true', 'x-gitee-event': 'Push Hook' },
  };
}

/** CODING: X-Coding-Event, X-Coding-Delivery, X-Coding-Signature = sha1= HMAC-SHA1 hex of the raw body. */
export function codingPush(p: PushFacts, secret: string, o: { deliveryId?: string; form?: boolean } = {}): HostDelivery {
  return githubStyleDelivery(
    githubStylePayload(p, { sender: { id: 3, login: 'ada', name: 'Ada' }, pusher: { login: 'ada', name: 'Ada', email: 'ada@example.com' } }),
    o,
    (id) => ({ 'user-agent': 'Coding.net Hook', 'x-coding-event': 'push', 'x-coding-delivery': id }),
    (body) => ['x-coding-signature', 'sha1=' + createHmac('sha1', secret).update(body).digest('hex')],
  );
}

export function codingPing(secret: string): HostDelivery {
  const body = JSON.stringify({ zen: 'CODING 让开发更简单', hook: { id: 1 } });
  const deliveryId = randomUUID();
  return {
    deliveryId,
    body,
    headers: { 'content-type': 'application/json', 'x-coding-event': 'ping', 'x-coding-delivery': deliveryId, 'x-coding-signature': 'sha1=' + createHmac('sha1', secret).update(body).digest('hex') },
  };
}

export const pushFor: Record<Host, (p: PushFacts, secret: string) => HostDelivery> = {
  github: (p, s) => githubPush(p, s),
  gitlab: (p, s) => gitlabPush(p, s),
  gitee: (p, s) => giteePush(p, s, { signed: true }),
  coding: (p, s) => codingPush(p, s),
};

export const pingFor: Record<Host, (secret: string) => HostDelivery> = {
  github: githubPing,
  gitlab: (s) => gitlabTest({ repo: 'acme/test', ref: 'refs/heads/main', before: '1'.repeat(40), after: '2'.repeat(40), commit: null, cloneUrl: 'http://x/acme/test.git' }, s),
  gitee: giteePing,
  coding: codingPing,
};

/** Spoil the credential: a wrong signature or token for each host. */
export function forge(host: Host, d: HostDelivery): HostDelivery {
  const h = { ...d.headers };
  if (host === 'github') h['x-hub-signature-256'] = 'sha256=' + '0'.repeat(64);
  if (host === 'gitlab') h['x-gitlab-token'] = 'not-the-secret';
  if (host === 'gitee') h['x-gitee-token'] = 'bm90LXRoZS1zaWduYXR1cmU=';
  if (host === 'coding') h['x-coding-signature'] = 'sha1=' + '0'.repeat(40);
  return { ...d, headers: h };
}
