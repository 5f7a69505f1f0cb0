import { createHmac, timingSafeEqual } from 'node:crypto';
import { normalizeSha, ZERO_SHA } from '@kiln/domain';
import { headCommit, HostCommit, pushOutcome } from './normalize';
import type { Delivery, Outcome, ProviderAdapter } from './types';

interface GithubPush {
  ref?: string;
  before?: string;
  after?: string;
  created?: boolean;
  deleted?: boolean;
  repository?: {
    full_name?: string;
    path_with_namespace?: string;
    /** Gitee: the repository's path and its namespace's path (full_name is the display name there). */
    path?: string;
    namespace?: string | { path?: string };
    clone_url?: string;
    git_http_url?: string;
    ssh_url?: string;
    git_ssh_url?: string;
    default_branch?: string;
    master_branch?: string;
  };
  head_commit?: HostCommit | null;
  pusher?: { name?: string; login?: string; username?: string };
  sender?: { login?: string };
}

/** `sha256=` + hex HMAC-SHA256 of the raw body, compared in constant time. */
export function verifyGithubSignature(rawBody: Buffer, secret: string, header: string | undefined): boolean {
  if (!header || !header.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** GitHub sends JSON, or a form whose `payload` field holds the JSON; the signature covers the raw bytes either way. */
export function readJsonOrFormPayload(delivery: Delivery): unknown {
  const text = delivery.rawBody.toString('utf8');
  if (delivery.contentType.includes('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw new Error('form body has no payload field');
    return JSON.parse(payload);
  }
  return JSON.parse(text);
}

export const githubAdapter: ProviderAdapter = {
  read(delivery: Delivery, secret: string): Outcome {
    const event = delivery.headers['x-github-event'];
    const deliveryId = delivery.headers['x-github-delivery'];
    if (!verifyGithubSignature(delivery.rawBody, secret, delivery.headers['x-hub-signature-256'])) return { kind: 'refused', status: 401, reason: 'missing or wrong X-Hub-Signature-256' };
    if (!event || !deliveryId) return { kind: 'refused', status: 400, reason: 'missing X-GitHub-Event or X-GitHub-Delivery' };
    if (event === 'ping') return { kind: 'ping', deliveryId };
    if (event !== 'push') return { kind: 'ignored', deliveryId, reason: `event type ${event} is not used by Kiln` };
    return readGithubShapedPush('github', delivery, deliveryId);
  },
};

/** GitHub's push payload shape, which Gitee and CODING follow closely. */
export function readGithubShapedPush(provider: 'github' | 'gitee' | 'coding', delivery: Delivery, deliveryId: string): Outcome {
  let body: GithubPush;
  try {
    body = readJsonOrFormPayload(delivery) as GithubPush;
  } catch (err) {
    return { kind: 'refused', status: 400, reason: `body is not a ${provider} push payload: ${(err as Error).message}` };
  }
  const fullName = provider === 'gitee' ? giteePathName(body?.repository) : (body?.repository?.full_name ?? body?.repository?.path_with_namespace);
  if (typeof body?.ref !== 'string' || !fullName) return { kind: 'refused', status: 400, reason: 'push payload lacks ref or repository.full_name' };
  const before = normalizeSha(body.before);
  const after = normalizeSha(body.after);
  const deleted = body.deleted ?? after === ZERO_SHA;
  const head = body.head_commit;
  return pushOutcome(provider, deliveryId, body.ref, {
    before,
    after,
    // For an annotated tag `after` is the tag object; head_commit is the commit it points at.
    commitSha: deleted ? null : (normalizeSha(head?.id) ?? after),
    created: body.created ?? before === ZERO_SHA,
    deleted,
    repoFullName: fullName,
    cloneUrl: body.repository?.clone_url ?? body.repository?.git_http_url ?? null,
    sshUrl: body.repository?.ssh_url ?? body.repository?.git_ssh_url ?? null,
    defaultBranch: body.repository?.default_branch ?? body.repository?.master_branch ?? null,
    headCommit: headCommit(head),
    pusher: body.pusher?.login ?? body.pusher?.username ?? body.pusher?.name ?? body.sender?.login ?? null,
  });
}

/**
 * Gitee's `full_name` is the display form (`OSCHINA/Gitee`, Chinese names for Chinese repositories); rules and clone
 * URLs use the path form: `path_with_namespace`, else the namespace's path and the repository's, else `full_name`.
 */
function giteePathName(repo: GithubPush['repository']): string | undefined {
  if (repo?.path_with_namespace) return repo.path_with_namespace;
  const namespace = typeof repo?.namespace === 'string' ? repo.namespace : repo?.namespace?.path;
  if (namespace && repo?.path) return `${namespace}/${repo.path}`;
  return repo?.full_name;
}
