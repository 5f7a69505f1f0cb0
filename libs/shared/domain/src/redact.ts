/** Secrets shorter than this are not redacted: replacing every "ab" in a log would destroy it and protect nothing. */
const MIN_SECRET = 4;

export const REDACTED = '***';

/**
 * Replaces known secrets in log text: each secret as given, URL-encoded, and base64-encoded alone or as the
 * `user:secret` pair that basic auth headers carry.
 */
export class Redactor {
  private readonly needles: string[];

  constructor(secrets: Array<string | null | undefined>, usernames: Array<string | null | undefined> = []) {
    const set = new Set<string>();
    for (const secret of secrets) {
      if (!secret || secret.length < MIN_SECRET) continue;
      set.add(secret);
      set.add(encodeURIComponent(secret));
      set.add(base64(secret));
      for (const user of ['x-access-token', 'oauth2', ...usernames]) if (user) set.add(base64(`${user}:${secret}`));
    }
    // Longest first, so a secret inside a longer encoded form is not half-replaced.
    this.needles = [...set].filter((n) => n.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join(REDACTED);
    return out;
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}
