import { createHmac, randomUUID } from 'node:crypto';
import type { CommitInfo, GitRepo } from './git-fixture';

/** A `push` delivery shaped as GitHub documents it (webhook-events-and-payloads#push), from a real push. */
export function githubPushPayload(repo: GitRepo, ref: string, push: { before: string; after: string }, head: CommitInfo | null, cloneUrl: string) {
  const [owner, name] = repo.fullName.split('/');
  const zero = /^0+$/;
  return {
    ref,
    before: push.before,
    after: push.after,
    repository: {
      id: 1296269,
      node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5',
      name,
      full_name: repo.fullName,
      private: false,
      owner: { name: owner, email: null, login: owner, id: 1, type: 'Organization' },
      html_url: cloneUrl.replace(/\.git$/, ''),
      clone_url: cloneUrl,
      git_url: cloneUrl.replace(/^http/, 'git'),
      ssh_url: `git@github.com:${repo.fullName}.git`,
      default_branch: 'main',
      master_branch: 'main',
    },
    pusher: { name: 'ada', email: 'ada@example.com' },
    sender: { login: 'ada', id: 2, type: 'User' },
    created: zero.test(push.before),
    deleted: zero.test(push.after),
    forced: false,
    base_ref: null,
    compare: `${cloneUrl.replace(/\.git$/, '')}/compare/${push.before.slice(0, 12)}...${push.after.slice(0, 12)}`,
    commits: head ? [commitJson(head)] : [],
    head_commit: head ? commitJson(head) : null,
  };
}

function commitJson(c: CommitInfo) {
  return {
    id: c.sha,
    tree_id: c.treeSha,
    distinct: true,
    message: c.message,
    timestamp: c.timestamp,
    url: `https://github.com/commit/${c.sha}`,
    author: { name: c.authorName, email: c.authorEmail, username: 'ada' },
    committer: { name: c.authorName, email: c.authorEmail, username: 'ada' },
    added: [],
    removed: [],
    modified: [],
  };
}

export interface SentWebhook {
  status: number;
  body: Record<string, unknown>;
  deliveryId: string;
  raw: string;
}

/** POST a delivery the way GitHub does: exact bytes, HMAC-SHA256 over them, event and delivery headers. */
export async function sendGithubWebhook(
  url: string,
  secret: string,
  event: string,
  payload: unknown,
  opts: { deliveryId?: string; raw?: string; signature?: string; form?: boolean } = {},
): Promise<SentWebhook> {
  const json = opts.raw ?? JSON.stringify(payload);
  const raw = opts.form ? `payload=${encodeURIComponent(json)}` : json;
  const deliveryId = opts.deliveryId ?? randomUUID();
  const send = () =>
    fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': opts.form ? 'application/x-www-form-urlencoded' : 'application/json',
        'User-Agent': 'GitHub-Hookshot/f1aa6e4',
        'X-GitHub-Event': event,
        'X-GitHub-Delivery': deliveryId,
        'X-GitHub-Hook-ID': '292430182',
        'X-Hub-Signature': 'sha1=' + createHmac('sha1', secret).update(raw).digest('hex'),
        'X-Hub-Signature-256': opts.signature ?? 'sha256=' + createHmac('sha256', secret).update(raw).digest('hex'),
      },
      body: raw,
    });
  // A delivery carries its id, so sending it again is safe: a keep-alive connection the server closed just as it was
  // reused fails before any answer, and is sent once more, as a host would redeliver.
  const res = await send().catch((err: Error & { cause?: { code?: string } }) => {
    if (err.cause?.code === 'UND_ERR_SOCKET') return send();
    throw err;
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, deliveryId, raw };
}
