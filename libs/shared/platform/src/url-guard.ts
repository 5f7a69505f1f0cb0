import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { ValidationError } from '@kiln/domain';

/**
 * Which git and API URLs Kiln will contact. Only network schemes; nothing git would read as an option or a
 * transport helper; and no host that resolves to loopback, link-local (cloud metadata among them), private or
 * otherwise internal addresses, unless the operator's allow-list (`KILN_GIT_ALLOW_HOSTS`) names it.
 */
const INTERNAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  INTERNAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  INTERNAL.addSubnet(net, bits, 'ipv6');

const METADATA_NAMES = /^(metadata|metadata\.google\.internal|instance-data|instance-data\.ec2\.internal|metadata\.azure\.com)\.?$/i;
const SCP_LIKE = /^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/)/;

export class UrlRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UrlRefused';
  }
}

/** Scheme and shape only (no DNS): why `url` may not be used, or null. */
export function gitUrlProblem(url: string, schemes: readonly string[] = ['https', 'http', 'ssh', 'git']): string | null {
  if (typeof url !== 'string' || url.length === 0) return 'is empty';
  if (url.startsWith('-')) return 'must not start with "-" (git would read it as an option)';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(url)) return 'must not contain spaces or control characters';
  if (/^[a-z][a-z0-9+.-]*::/i.test(url)) return 'transport helpers such as ext:: are not allowed';
  if (SCP_LIKE.test(url) && schemes.includes('ssh')) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `must be a URL (${schemes.join(', ')})`;
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
  if (!schemes.includes(scheme)) return `scheme ${scheme}: is not allowed; use ${schemes.join(', ')}`;
  if (!parsed.hostname) return 'needs a host';
  if (parsed.hostname.startsWith('-')) return 'host must not start with "-"';
  if (parsed.pathname.split('/').some((p) => p.startsWith('-'))) return 'path parts must not start with "-"';
  return null;
}

export function hostOf(url: string): string {
  const scp = SCP_LIKE.exec(url);
  const host = scp ? scp[1] : new URL(url).hostname;
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

export class HostPolicy {
  private readonly names = new Set<string>();
  private readonly nets = new BlockList();

  /** `allow`: comma-separated host names, IP addresses and CIDR ranges (e.g. `127.0.0.1,git.internal,10.1.0.0/16`). */
  constructor(allow = '') {
    for (const raw of allow
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean)) {
      const [addr, bits] = raw.split('/');
      const family = isIP(addr);
      if (family === 0) this.names.add(raw);
      else if (bits !== undefined) this.nets.addSubnet(addr, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
      else this.nets.addAddress(addr, family === 6 ? 'ipv6' : 'ipv4');
    }
  }

  private allowedAddress(addr: string): boolean {
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    return this.nets.check(addr, family);
  }

  /**
   * Refuses (throws UrlRefused) a URL whose shape is wrong or whose host is internal and not allow-listed. Checked
   * when a source or rule is saved and again right before each use, since DNS answers change.
   * `unresolvable`: what to do when the host does not resolve now (accept on save; git fails on its own on use).
   */
  async check(url: string, o: { schemes?: readonly string[]; unresolvable?: 'accept' | 'refuse' } = {}): Promise<void> {
    const problem = gitUrlProblem(url, o.schemes);
    if (problem) throw new UrlRefused(`${redactUrl(url)}: ${problem}`);
    const host = hostOf(url);
    if (this.names.has(host)) return;
    if (METADATA_NAMES.test(host)) throw new UrlRefused(`${host} is a cloud metadata service; Kiln does not contact it`);
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
      } catch {
        if (o.unresolvable === 'refuse') throw new UrlRefused(`${host} does not resolve`);
        return;
      }
    }
    for (const addr of addresses) {
      if (this.allowedAddress(addr)) continue;
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
      const v4 = mapped?.[1];
      const internal = v4 ? INTERNAL.check(v4, 'ipv4') : INTERNAL.check(addr, isIP(addr) === 6 ? 'ipv6' : 'ipv4');
      if (internal && !(v4 && this.allowedAddress(v4)))
        throw new UrlRefused(`${host} resolves to ${addr}, an internal (loopback, link-local, private or metadata) address; an operator can allow it with KILN_GIT_ALLOW_HOSTS`);
    }
  }
}

/** A URL safe to show: user info removed. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** For input validation: a refused URL becomes a 400 on `field`, and nothing is saved. */
export async function checkUrlField(policy: HostPolicy, field: string, url: string, schemes?: readonly string[]): Promise<void> {
  try {
    await policy.check(url, { schemes, unresolvable: 'accept' });
  } catch (err) {
    if (err instanceof UrlRefused) throw new ValidationError([{ field, message: `refused: ${err.message}` }]);
    throw err;
  }
}
