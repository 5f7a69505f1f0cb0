import { transientFailure, userFailure } from '../activities/failures';

/** Credentials for one registry host, as in a docker `config.json` (`auths[host].auth` = base64 of user:password). */
export interface RegistryCredentials {
  username: string;
  password: string;
}

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/** Credentials per registry host from a docker `config.json` object. */
export function credentialsFor(config: { auths?: Record<string, { auth?: string }> }, host: string): RegistryCredentials | null {
  const auth = config.auths?.[host]?.auth;
  if (!auth) return null;
  const plain = Buffer.from(auth, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  return i < 0 ? null : { username: plain.slice(0, i), password: plain.slice(i + 1) };
}

/**
 * A minimal client of the OCI distribution API for what BuildKit does not do: applying a tag to a manifest already
 * pushed by digest. Speaks basic auth and the bearer-token flow (Docker Hub, GHCR and most hosted registries).
 */
export class RegistryClient {
  private token: string | null = null;

  constructor(
    private readonly host: string,
    private readonly insecure: boolean,
    private readonly creds: RegistryCredentials | null,
    private readonly timeoutMs = 60_000,
  ) {}

  /**
   * PUT the manifest `digest` of `repository` under `tag`; resolves with the digest the registry answers and, for an
   * index, each platform's image (attestations left out).
   */
  async tag(repository: string, digest: string, tag: string, signal?: AbortSignal): Promise<{ digest: string; images: Array<{ platform: string; digest: string }> }> {
    const scope = `repository:${repository}:pull,push`;
    const got = await this.request('GET', `/v2/${repository}/manifests/${digest}`, scope, { headers: { Accept: MANIFEST_TYPES.join(', ') }, signal });
    if (got.status === 404) throw transientFailure('RegistryUnavailable', `the registry ${this.host} no longer has ${repository}@${digest}`, 'Kiln builds and pushes again');
    await this.check(got, 'read the pushed manifest');
    const body = Buffer.from(await got.arrayBuffer());
    const put = await this.request('PUT', `/v2/${repository}/manifests/${encodeURIComponent(tag)}`, scope, {
      headers: { 'Content-Type': got.headers.get('content-type') ?? MANIFEST_TYPES[1] },
      body,
      signal,
    });
    await this.check(put, `tag ${repository}:${tag}`);
    return { digest: put.headers.get('docker-content-digest') ?? digest, images: platformImages(body) };
  }

  private async check(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    const text = (await res.text().catch(() => '')).slice(0, 300);
    if (res.status === 401 || res.status === 403)
      throw userFailure(
        'RegistryAuthFailed',
        `the registry ${this.host} refused to ${what}: ${res.status} ${text}`,
        'check the registry credentials configured for this image repository and its push permission',
      );
    throw transientFailure('RegistryUnavailable', `the registry ${this.host} could not ${what}: ${res.status} ${text}`, 'the registry may be down; Kiln retries with backoff');
  }

  private async request(method: string, path: string, scope: string, init: { headers: Record<string, string>; body?: Buffer; signal?: AbortSignal }): Promise<Response> {
    const url = `${this.insecure ? 'http' : 'https'}://${this.host}${path}`;
    const send = (authorization: string | null) =>
      fetch(url, {
        method,
        headers: { ...init.headers, ...(authorization ? { Authorization: authorization } : {}) },
        body: init.body,
        signal: init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
      }).catch((err: Error) => {
        if (init.signal?.aborted) throw err;
        throw transientFailure(
          'RegistryUnavailable',
          `the registry ${this.host} is unreachable: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ''}`,
          'the registry may be down; Kiln retries with backoff',
        );
      });
    let res = await send(this.authorization());
    if (res.status !== 401) return res;
    const challenge = res.headers.get('www-authenticate') ?? '';
    await res.arrayBuffer().catch(() => undefined);
    if (/^bearer /i.test(challenge)) {
      this.token = await this.fetchToken(challenge, scope, init.signal);
      res = await send(`Bearer ${this.token}`);
    } else if (this.creds && !this.token) {
      res = await send(this.basic());
    }
    return res;
  }

  private authorization(): string | null {
    if (this.token) return `Bearer ${this.token}`;
    return this.creds ? this.basic() : null;
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${this.creds?.username}:${this.creds?.password}`).toString('base64')}`;
  }

  /** The token flow of the distribution spec: the challenge names the realm, service and scope. */
  private async fetchToken(challenge: string, scope: string, signal?: AbortSignal): Promise<string> {
    const params = Object.fromEntries([...challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) throw userFailure('RegistryAuthFailed', `the registry ${this.host} asked for a token without naming where to get it`, 'check the registry address');
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    const res = await fetch(url, { headers: this.creds ? { Authorization: this.basic() } : {}, signal: signal ?? AbortSignal.timeout(this.timeoutMs) }).catch((err: Error) => {
      throw transientFailure('RegistryUnavailable', `the token service of ${this.host} is unreachable: ${err.message}`, 'Kiln retries with backoff');
    });
    if (res.status === 401 || res.status === 403)
      throw userFailure('RegistryAuthFailed', `the registry ${this.host} refused the credentials (${res.status})`, 'check the registry credentials configured for this image repository');
    if (!res.ok) throw transientFailure('RegistryUnavailable', `the token service of ${this.host} answered ${res.status}`, 'Kiln retries with backoff');
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw transientFailure('RegistryUnavailable', `the token service of ${this.host} gave no token`, 'Kiln retries with backoff');
    return token;
  }
}

/** The platform images of an index (`os/arch[/variant]` → digest), leaving out attestations (`unknown/unknown`). */
export function platformImages(manifest: Buffer): Array<{ platform: string; digest: string }> {
  const m = JSON.parse(manifest.toString('utf8')) as { manifests?: Array<{ digest: string; platform?: { os: string; architecture: string; variant?: string } }> };
  return (m.manifests ?? [])
    .filter((d) => d.platform && d.platform.os !== 'unknown')
    .map((d) => ({ platform: [d.platform?.os, d.platform?.architecture, d.platform?.variant].filter(Boolean).join('/'), digest: d.digest }));
}
