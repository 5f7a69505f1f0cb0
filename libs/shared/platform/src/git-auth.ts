import type { GitCredentials } from './git';

/** The `Authorization` header git sends for a source's token (its user, or GitHub's `x-access-token`), or null. */
export function gitBasicAuthorization(creds: GitCredentials): string | null {
  return creds.secret ? `Basic ${Buffer.from(`${creds.username ?? 'x-access-token'}:${creds.secret}`).toString('base64')}` : null;
}
