import { parseRef } from '@kiln/domain';
import type { HeadCommit, PushReceivedV1 } from '@kiln/contracts';

/** The commit shape GitHub, GitLab, Gitee and CODING all send. */
export interface HostCommit {
  id?: string;
  message?: string;
  timestamp?: string;
  author?: { name?: string; email?: string };
}

export function isoInstant(value: string | undefined | null): string | null {
  if (!value) return null;
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** `ref` as sent, its type and its name without `refs/heads/` or `refs/tags/` (slashes kept). */
export function refFields(ref: string): Pick<PushReceivedV1, 'ref' | 'refType' | 'name'> {
  const parsed = parseRef(ref);
  return { ref, refType: parsed.type === 'other' ? null : parsed.type, name: parsed.name };
}

export function headCommit(c: HostCommit | null | undefined): HeadCommit | null {
  if (!c?.id) return null;
  return { id: c.id, message: c.message ?? '', authorName: c.author?.name ?? null, authorEmail: c.author?.email ?? null, timestamp: isoInstant(c.timestamp) };
}
