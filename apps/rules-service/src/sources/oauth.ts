import type { Provider } from '@kiln/domain';

/** An OAuth app registered on a host: ids and secrets come from configuration only. */
export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  /** The host's web base (authorize and token endpoints live under it). */
  url: string;
}

export interface OAuthToken {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date | null;
}

type OAuthProvider = Exclude<Provider, 'git'>;

/** The hosts' documented authorization-code endpoints and scopes. */
const ENDPOINTS: Record<OAuthProvider, { authorize: string; token: string; scope: string }> = {
  github: { authorize: '/login/oauth/authorize', token: '/login/oauth/access_token', scope: 'repo admin:repo_hook' },
  gitlab: { authorize: '/oauth/authorize', token: '/oauth/token', scope: 'api read_repository' },
  gitee: { authorize: '/oauth/authorize', token: '/oauth/token', scope: 'user_info projects hook' },
  coding: { authorize: '/oauth_authorize.html', token: '/api/oauth/access_token', scope: 'user,project,project:depot' },
};

export function authorizeUrl(provider: OAuthProvider, app: OAuthApp, redirectUri: string, state: string): string {
  const e = ENDPOINTS[provider];
  const u = new URL(`${app.url.replace(/\/+$/, '')}${e.authorize}`);
  u.searchParams.set('client_id', app.clientId);
  u.searchParams.set('redirect_uri', redirectUri);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('scope', e.scope);
  u.searchParams.set('state', state);
  return u.toString();
}

export class OAuthError extends Error {}

/** Exchange the callback's code for a token at the host's token endpoint. */
export function exchangeCode(provider: OAuthProvider, app: OAuthApp, code: string, redirectUri: string): Promise<OAuthToken> {
  return tokenRequest(provider, app, { code, redirect_uri: redirectUri, grant_type: 'authorization_code' });
}

/** A new access token from the refresh token (GitLab's last two hours, Gitee's a day). */
export function refreshAccessToken(provider: OAuthProvider, app: OAuthApp, refreshToken: string, redirectUri: string): Promise<OAuthToken> {
  return tokenRequest(provider, app, { refresh_token: refreshToken, grant_type: 'refresh_token', redirect_uri: redirectUri });
}

async function tokenRequest(provider: OAuthProvider, app: OAuthApp, grant: Record<string, string>): Promise<OAuthToken> {
  const e = ENDPOINTS[provider];
  const params = new URLSearchParams({ client_id: app.clientId, client_secret: app.clientSecret, ...grant });
  const base = `${app.url.replace(/\/+$/, '')}${e.token}`;
  // Gitee and CODING take the grant in the query string (their documented form); GitHub and GitLab in the body.
  const inQuery = provider === 'gitee' || provider === 'coding';
  let res: Response;
  try {
    res = await fetch(inQuery ? `${base}?${params}` : base, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: inQuery ? new URLSearchParams({ client_secret: app.clientSecret }).toString() : params.toString(),
      signal: AbortSignal.timeout(15_000),
      redirect: 'error',
    });
  } catch (err) {
    throw new OAuthError(`the ${provider} token endpoint did not answer: ${(err as Error).message}`);
  }
  const text = await res.text();
  let body: { access_token?: string; refresh_token?: string; expires_in?: number; error?: string; error_description?: string };
  try {
    body = JSON.parse(text);
  } catch {
    throw new OAuthError(`the ${provider} token endpoint answered ${res.status} with something other than JSON`);
  }
  // GitHub reports a bad code as 200 with an `error` field.
  if (!res.ok || body.error || !body.access_token)
    throw new OAuthError(`${provider} refused the ${grant.grant_type === 'refresh_token' ? 'refresh token' : 'authorization code'}: ${body.error_description ?? body.error ?? `HTTP ${res.status}`}`);
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token ?? null,
    expiresAt: typeof body.expires_in === 'number' ? new Date(Date.now() + body.expires_in * 1000) : null,
  };
}

/** The user name git over HTTPS takes with each host's OAuth tokens. */
export const OAUTH_GIT_USERNAME: Record<OAuthProvider, string> = { github: 'x-access-token', gitlab: 'oauth2', gitee: 'oauth2', coding: 'oauth2' };

/** The configured OAuth app of a host, or null when the operator configured none. */
export function oauthApp(c: Record<string, unknown>, provider: Provider): OAuthApp | null {
  if (provider === 'git') return null;
  const key = provider.toUpperCase();
  const id = c[`KILN_OAUTH_${key}_CLIENT_ID`] as string | undefined;
  const secret = c[`KILN_OAUTH_${key}_CLIENT_SECRET`] as string | undefined;
  const url = c[`KILN_OAUTH_${key}_URL`] as string | undefined;
  return id && secret && url ? { clientId: id, clientSecret: secret, url } : null;
}

export const oauthRedirectUri = (publicApiUrl: string): string => `${publicApiUrl.replace(/\/+$/, '')}/api/v1/oauth/callback`;
