import { createHash } from 'node:crypto';
import { normalizeSha, ZERO_SHA } from '@kiln/domain';
import { headCommit, HostCommit, pushOutcome } from './normalize';
import { safeEqual } from './constant-time';
import type { Delivery, Outcome, ProviderAdapter } from './types';

interface GitlabPush {
  object_kind?: string;
  ref?: string;
  before?: string;
  after?: string;
  checkout_sha?: string | null;
  user_username?: string;
  user_name?: string;
  project?: { path_with_namespace?: string; git_http_url?: string; git_ssh_url?: string; default_branch?: string };
  repository?: { git_http_url?: string; git_ssh_url?: string };
  commits?: HostCommit[];
}

const EVENTS = new Set(['Push Hook', 'Tag Push Hook', 'System Hook']);

/**
 * GitLab (gitlab.com and self-managed): the plain secret in X-Gitlab-Token, Idempotency-Key as delivery id.
 * No created/deleted flags: they come from all-zero SHAs. The commit to build is `checkout_sha`.
 */
export const gitlabAdapter: ProviderAdapter = {
  read(delivery: Delivery, secret: string): Outcome {
    const token = delivery.headers['x-gitlab-token'];
    if (!token || !safeEqual(token, secret)) return { kind: 'refused', status: 401, reason: 'missing or wrong X-Gitlab-Token' };
    const event = delivery.headers['x-gitlab-event'];
    const deliveryId = delivery.headers['idempotency-key'] ?? delivery.headers['x-gitlab-event-uuid'] ?? createHash('sha256').update(delivery.rawBody).digest('hex').slice(0, 32);
    if (!event) return { kind: 'refused', status: 400, reason: 'missing X-Gitlab-Event' };
    if (!EVENTS.has(event)) return { kind: 'ignored', deliveryId, reason: `event type ${event} is not used by Kiln` };
    let body: GitlabPush;
    try {
      body = JSON.parse(delivery.rawBody.toString('utf8')) as GitlabPush;
    } catch (err) {
      return { kind: 'refused', status: 400, reason: `body is not a GitLab push payload: ${(err as Error).message}` };
    }
    if (body?.object_kind !== 'push' && body?.object_kind !== 'tag_push') return { kind: 'ignored', deliveryId, reason: `object_kind ${String(body?.object_kind)} is not a push` };
    if (typeof body.ref !== 'string' || !body.project?.path_with_namespace) return { kind: 'refused', status: 400, reason: 'push payload lacks ref or project.path_with_namespace' };
    const before = normalizeSha(body.before);
    const after = normalizeSha(body.after);
    const deleted = after === ZERO_SHA;
    const checkout = normalizeSha(body.checkout_sha ?? null);
    const head = (body.commits ?? []).find((c) => c.id && normalizeSha(c.id) === checkout) ?? (body.commits ?? [])[(body.commits ?? []).length - 1];
    return pushOutcome('gitlab', deliveryId, body.ref, {
      before,
      after,
      commitSha: deleted ? null : (checkout ?? after),
      created: before === ZERO_SHA,
      deleted,
      repoFullName: body.project.path_with_namespace,
      cloneUrl: body.project.git_http_url ?? body.repository?.git_http_url ?? null,
      sshUrl: body.project.git_ssh_url ?? body.repository?.git_ssh_url ?? null,
      defaultBranch: body.project.default_branch ?? null,
      headCommit: headCommit(head),
      pusher: body.user_username ?? body.user_name ?? null,
    });
  },
};
