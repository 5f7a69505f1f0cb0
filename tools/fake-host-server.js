#!/usr/bin/env node
/*
 * A stand-in for GitHub's, GitLab's and Gitee's REST APIs and OAuth endpoints, which tests cannot reach. It
 * replays the shapes, headers and paging each host documents:
 *   GitHub  /github/...            (REST v3: Link rel="next" paging; Bearer tokens; OAuth under /login/oauth)
 *   GitLab  /gitlab/api/v4/...     (x-next-page / x-total-pages paging; Bearer or PRIVATE-TOKEN; OAuth /oauth/*)
 *   Gitee   /gitee/api/v5/...      (access_token query; total_count / total_page headers; OAuth /oauth/*)
 *   CODING  /coding/oauth_authorize.html, /coding/api/oauth/access_token (OAuth only: grant in the query string)
 * Usage: node fake-host-server.js <port or 0> <state.json>
 * state.json: { "tokens": ["t1"], "oauthApps": { "<clientId>": "<secret>" }, "repos": [{ "fullName": "acme/app",
 *   "branches": { "main": "<sha>" }, "tags": { "v1": "<sha>" }, "private": true }] }
 * Optional "tokenTtlSeconds": expires_in of GitLab/Gitee access tokens (refresh tokens are single-use).
 * Test-only endpoints: GET /_fake/hooks (hooks registered), /_fake/requests (methods and paths), /_fake/grants,
 *   /_fake/tokens (every token issued, for tests that look for them in clear).
 */
const http = require('node:http');
const { readFileSync } = require('node:fs');
const { randomBytes } = require('node:crypto');

const [, , portArg, statePath] = process.argv;
const state = JSON.parse(readFileSync(statePath, 'utf8'));
const tokens = new Set(state.tokens ?? []);
const codes = new Map(); // code -> { clientId, redirectUri }
const refreshTokens = new Map(); // refresh token -> { clientId, host }
const grants = []; // grant types seen at the token endpoints
const hooks = []; // { host, repo, id, body }
const seen = [];
let nextHookId = 1000;

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function page(items, url) {
  const p = Math.max(1, Number(url.searchParams.get('page') ?? 1));
  const per = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30)));
  const total = Math.max(1, Math.ceil(items.length / per));
  return { slice: items.slice((p - 1) * per, p * per), p, per, total, count: items.length };
}

function githubLink(url, p, total) {
  const links = [];
  const at = (n) => {
    const u = new URL(url);
    u.searchParams.set('page', String(n));
    return u.toString();
  };
  if (p < total) links.push(`<${at(p + 1)}>; rel="next"`, `<${at(total)}>; rel="last"`);
  if (p > 1) links.push(`<${at(1)}>; rel="first"`, `<${at(p - 1)}>; rel="prev"`);
  return links.length ? { Link: links.join(', ') } : {};
}

function body(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

function parseBody(raw, type) {
  if (!raw) return {};
  if ((type ?? '').includes('application/json')) return JSON.parse(raw);
  return Object.fromEntries(new URLSearchParams(raw));
}

const repoOf = (name) => state.repos.find((r) => r.fullName.toLowerCase() === name.toLowerCase());
const refs = (map) =>
  Object.entries(map ?? {})
    .map(([name, sha]) => ({ name, sha }))
    .sort((a, b) => a.name.localeCompare(b.name));

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const raw = await body(req);
  seen.push(`${req.method} ${url.pathname}`);
  const path = url.pathname;
  const origin = `http://${req.headers.host}`;

  if (path === '/_fake/hooks') return send(res, 200, hooks);
  if (path === '/_fake/requests') return send(res, 200, seen);
  if (path === '/_fake/grants') return send(res, 200, grants);
  if (path === '/_fake/tokens') return send(res, 200, { access: [...tokens], refresh: [...refreshTokens.keys()] });

  // ---- OAuth (all three): the user "approves" at once and is sent back with a code.
  const authorize = /^\/(github)\/login\/oauth\/authorize$|^\/(gitlab|gitee)\/oauth\/authorize$|^\/(coding)\/oauth_authorize\.html$/.exec(path);
  if (authorize && req.method === 'GET') {
    const clientId = url.searchParams.get('client_id');
    if (!state.oauthApps?.[clientId]) return send(res, 404, { error: 'unknown client' });
    const code = randomBytes(10).toString('hex');
    codes.set(code, { clientId, redirectUri: url.searchParams.get('redirect_uri') });
    const back = new URL(url.searchParams.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', url.searchParams.get('state') ?? '');
    res.writeHead(302, { Location: back.toString() });
    return res.end();
  }
  const tokenAt = /^\/(github)\/login\/oauth\/access_token$|^\/(gitlab|gitee)\/oauth\/token$|^\/(coding)\/api\/oauth\/access_token$/.exec(path);
  if (tokenAt && req.method === 'POST') {
    const host = tokenAt[1] ?? tokenAt[2] ?? tokenAt[3];
    const p = { ...Object.fromEntries(url.searchParams), ...parseBody(raw, req.headers['content-type']) };
    grants.push(`${host}:${p.grant_type ?? 'authorization_code'}`);
    const issue = () => {
      const token = `${host === 'github' ? 'gho_' : ''}${randomBytes(16).toString('hex')}`;
      tokens.add(token);
      if (host === 'github') return { access_token: token, token_type: 'bearer', scope: 'repo,admin:repo_hook' };
      const refresh = randomBytes(16).toString('hex');
      refreshTokens.set(refresh, { clientId: p.client_id, host });
      return {
        access_token: token,
        token_type: host === 'gitlab' ? 'Bearer' : 'bearer',
        expires_in: state.tokenTtlSeconds ?? (host === 'gitlab' ? 7200 : 86400),
        refresh_token: refresh,
        scope: 'api',
        created_at: Math.floor(Date.now() / 1000),
      };
    };
    if (p.grant_type === 'refresh_token') {
      const known = refreshTokens.get(p.refresh_token);
      // A refresh token is single-use: the host hands out a new one with the new access token.
      if (!known || known.host !== host || known.clientId !== p.client_id || state.oauthApps?.[p.client_id] !== p.client_secret)
        return send(res, 400, {
          error: 'invalid_grant',
          error_description: 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
        });
      refreshTokens.delete(p.refresh_token);
      return send(res, 200, issue());
    }
    const grant = codes.get(p.code);
    const ok = grant && state.oauthApps?.[p.client_id] === p.client_secret && grant.clientId === p.client_id && grant.redirectUri === p.redirect_uri;
    if (!ok) {
      if (host === 'github')
        return send(res, 200, {
          error: 'bad_verification_code',
          error_description: 'The code passed is incorrect or expired.',
          error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code',
        });
      return send(res, 400, {
        error: 'invalid_grant',
        error_description: 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
      });
    }
    codes.delete(p.code);
    return send(res, 200, issue());
  }

  // ---- REST APIs
  const gh = /^\/github(\/.*)$/.exec(path);
  const gl = /^\/gitlab\/api\/v4(\/.*)$/.exec(path);
  const ge = /^\/gitee\/api\/v5(\/.*)$/.exec(path);
  const host = gh ? 'github' : gl ? 'gitlab' : ge ? 'gitee' : null;
  if (!host) return send(res, 404, { message: 'Not Found' });
  const rest = (gh ?? gl ?? ge)[1];
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? req.headers['private-token'] ?? url.searchParams.get('access_token');
  if (!bearer || !tokens.has(bearer)) {
    if (host === 'github') return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    if (host === 'gitlab') return send(res, 401, { message: '401 Unauthorized' });
    return send(res, 401, { message: '401 Unauthorized: Access token does not exist' });
  }
  const pageHeaders = (pg) =>
    host === 'github'
      ? githubLink(`${origin}${req.url}`, pg.p, pg.total)
      : host === 'gitlab'
        ? {
            'x-page': String(pg.p),
            'x-per-page': String(pg.per),
            'x-total': String(pg.count),
            'x-total-pages': String(pg.total),
            'x-next-page': pg.p < pg.total ? String(pg.p + 1) : '',
            'x-prev-page': pg.p > 1 ? String(pg.p - 1) : '',
          }
        : { total_count: String(pg.count), total_page: String(pg.total) };

  // Repositories of the authenticated user.
  if (req.method === 'GET' && ((host !== 'gitlab' && rest === '/user/repos') || (host === 'gitlab' && rest === '/projects'))) {
    const pg = page(state.repos, url);
    const items = pg.slice.map((r, i) =>
      host === 'github'
        ? {
            id: i + 1,
            name: r.fullName.split('/').pop(),
            full_name: r.fullName,
            private: !!r.private,
            clone_url: `https://github.com/${r.fullName}.git`,
            ssh_url: `git@github.com:${r.fullName}.git`,
            default_branch: r.defaultBranch ?? 'main',
          }
        : host === 'gitlab'
          ? {
              id: i + 1,
              name: r.fullName.split('/').pop(),
              path_with_namespace: r.fullName,
              http_url_to_repo: `https://gitlab.com/${r.fullName}.git`,
              ssh_url_to_repo: `git@gitlab.com:${r.fullName}.git`,
              default_branch: r.defaultBranch ?? 'main',
              visibility: r.private ? 'private' : 'public',
            }
          : {
              id: i + 1,
              full_name: r.fullName,
              human_name: r.fullName,
              path: r.fullName.split('/').pop(),
              html_url: `https://gitee.com/${r.fullName}.git`,
              ssh_url: `git@gitee.com:${r.fullName}.git`,
              default_branch: r.defaultBranch ?? 'master',
              private: !!r.private,
              public: !r.private,
            },
    );
    return send(res, 200, items, pageHeaders(pg));
  }

  // /repos/{owner}/{repo}/... (GitHub, Gitee) or /projects/{url-encoded path}/... (GitLab)
  const m =
    host === 'gitlab' ? /^\/projects\/([^/]+)\/(repository\/branches|repository\/tags|hooks)(?:\/(\d+))?$/.exec(rest) : /^\/repos\/([^/]+\/[^/]+)\/(branches|tags|hooks)(?:\/(\d+))?$/.exec(rest);
  if (!m) return send(res, 404, { message: 'Not Found' });
  const repo = repoOf(decodeURIComponent(m[1]));
  if (!repo) return send(res, 404, { message: host === 'gitlab' ? '404 Project Not Found' : 'Not Found' });
  const what = m[2].replace('repository/', '');
  if (req.method === 'GET' && (what === 'branches' || what === 'tags')) {
    const pg = page(refs(what === 'branches' ? repo.branches : repo.tags), url);
    const items = pg.slice.map((r) =>
      host === 'gitlab'
        ? { name: r.name, commit: { id: r.sha, short_id: r.sha.slice(0, 8) }, protected: false }
        : { name: r.name, commit: { sha: r.sha, url: `${origin}/commits/${r.sha}` }, protected: false },
    );
    return send(res, 200, items, pageHeaders(pg));
  }
  if (what === 'hooks' && req.method === 'POST') {
    const b = parseBody(raw, req.headers['content-type']);
    const id = nextHookId++;
    hooks.push({ host, repo: repo.fullName, id, body: b });
    if (host === 'github')
      return send(res, 201, {
        type: 'Repository',
        id,
        name: 'web',
        active: b.active ?? true,
        events: b.events ?? ['push'],
        config: { url: b.config?.url, content_type: b.config?.content_type, insecure_ssl: b.config?.insecure_ssl ?? '0', secret: '********' },
        created_at: new Date().toISOString(),
      });
    if (host === 'gitlab')
      return send(res, 201, {
        id,
        url: b.url,
        project_id: 1,
        push_events: !!b.push_events,
        tag_push_events: !!b.tag_push_events,
        enable_ssl_verification: b.enable_ssl_verification ?? true,
        created_at: new Date().toISOString(),
      });
    return send(res, 201, {
      id,
      url: b.url,
      password: b.password,
      project_id: 1,
      result: null,
      result_code: null,
      push_events: !!b.push_events,
      tag_push_events: !!b.tag_push_events,
      created_at: new Date().toISOString(),
    });
  }
  if (what === 'hooks' && req.method === 'DELETE' && m[3]) {
    const i = hooks.findIndex((h) => h.host === host && h.repo === repo.fullName && h.id === Number(m[3]));
    if (i < 0) return send(res, 404, { message: 'Not Found' });
    hooks.splice(i, 1);
    res.writeHead(204);
    return res.end();
  }
  return send(res, 404, { message: 'Not Found' });
});

server.listen(Number(portArg ?? 0), '127.0.0.1', () => {
  process.stdout.write(`fake hosts on http://127.0.0.1:${server.address().port}/\n`);
});
