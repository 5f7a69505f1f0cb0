import type { GitCredentials } from './git';
import { gitBasicAuthorization } from './git-auth';

/** Proxies git would use and Node's fetch would not: with one set, git is asked instead. */
const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY'];
/** A server this slow is left to git (with the caller's whole timeout), whose error then says what went wrong. */
const FAST_PATH_TIMEOUT_MS = 10_000;
/** An advertisement larger than this (tens of thousands of refs) is left to git. */
const MAX_ADVERTISEMENT_BYTES = 16 * 1024 * 1024;

/**
 * The refs a smart-HTTP git server advertises, read in-process with the one request `git ls-remote` makes first
 * (`GET …/info/refs?service=git-upload-pack`, protocol v0): no git process and no second round trip. The
 * credentials go as git sends them (basic auth, to the source's own origin only: redirects are not followed).
 *
 * Null whenever this cannot answer exactly as git would: not an http(s) URL, credentials in the URL, a proxy in the
 * environment, a redirect or any status but 200 (a refusal included: git's own message says why), a dumb server, or
 * an answer that does not parse. The caller then asks git.
 */
export async function advertisedRefs(url: string, creds: GitCredentials, timeoutMs: number): Promise<Map<string, string> | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.username || parsed.password || parsed.search || parsed.hash) return null;
  if (PROXY_VARIABLES.some((name) => process.env[name])) return null;
  const headers: Record<string, string> = { Accept: 'application/x-git-upload-pack-advertisement', 'User-Agent': 'git/kiln', Pragma: 'no-cache' };
  const authorization = gitBasicAuthorization(creds);
  if (authorization) headers.Authorization = authorization;
  const endpoint = `${url.replace(/\/+$/, '')}/info/refs?service=git-upload-pack`;
  let body: Buffer;
  try {
    const res = await fetch(endpoint, { headers, redirect: 'manual', signal: AbortSignal.timeout(Math.min(timeoutMs, FAST_PATH_TIMEOUT_MS)) });
    const type = res.headers.get('content-type') ?? '';
    const length = Number(res.headers.get('content-length') ?? 0);
    if (res.status !== 200 || !type.startsWith('application/x-git-upload-pack-advertisement') || length > MAX_ADVERTISEMENT_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      return null;
    }
    body = Buffer.from(await res.arrayBuffer());
  } catch {
    return null;
  }
  if (body.length > MAX_ADVERTISEMENT_BYTES) return null;
  return parseAdvertisement(body);
}

/**
 * A v0 smart-HTTP advertisement: `# service=git-upload-pack`, a flush, then one pkt-line per ref
 * (`<id> <name>`, the first with `\0<capabilities>`), peeled tags as `<name>^{}`, and a flush. An empty repository
 * advertises only `capabilities^{}`. Null for anything else (a protocol v2 answer, a truncated body).
 */
export function parseAdvertisement(body: Buffer): Map<string, string> | null {
  const lines: Array<string | null> = [];
  for (let at = 0; at < body.length;) {
    if (at + 4 > body.length) return null;
    const hex = body.toString('latin1', at, at + 4);
    if (!/^[0-9a-f]{4}$/i.test(hex)) return null;
    const size = parseInt(hex, 16);
    if (size === 0) {
      lines.push(null);
      at += 4;
      continue;
    }
    if (size < 4 || at + size > body.length) return null;
    lines.push(body.toString('utf8', at + 4, at + size).replace(/\n$/, ''));
    at += size;
  }
  if (lines[0] !== '# service=git-upload-pack' || lines[1] !== null || lines[lines.length - 1] !== null) return null;
  const refs = new Map<string, string>();
  const entries = lines.slice(2, -1);
  for (const [i, line] of entries.entries()) {
    if (line === null) return null;
    const text = i === 0 ? line.split('\0')[0] : line;
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (\S+)$/.exec(text);
    if (!m) return null;
    if (i === 0 && m[2] === 'capabilities^{}') continue;
    refs.set(m[2], m[1]);
  }
  return refs;
}
