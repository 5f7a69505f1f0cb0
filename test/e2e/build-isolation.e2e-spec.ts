import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { connect } from 'nats';
import { Client as PgClient } from 'pg';
import { sourcesCredentials } from '@kiln/contracts';
import { natsOptions } from '@kiln/platform/standalone';
import { Api } from './support/api';
import { onStack } from './support/on-stack';
import { GitFixture } from './support/git-fixture';
import { pullAndRun, registryFetch } from './support/registry';
import { BuildItem, Scenario } from './support/scenario';
import { buildNow } from './support/builds';
import { natsPassword, postgresPassword, services, sharedStack, Stack } from './support/stack';

jest.setTimeout(300_000);

interface Line {
  text: string;
  step: string;
}

/** An HTTP server on `host:port`, answering every GET with `body`. */
async function serve(host: string, port: number, body: string): Promise<Server> {
  const server = createServer((req, res) => res.end(req.url === '/pkg/hello.txt' ? body : 'not a package\n'));
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, host, ok));
  return server;
}

describe('a build is untrusted code: what a RUN step can reach', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  let mirror: Server;
  let canary: Server;
  const run = `${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    stack = sharedStack();
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
    // The stand-in package mirror, on the path the design gives builds: the host's build-network address.
    mirror = await serve(services.buildHost, 15060, `mirror-ok-${run}\n`);
    // Something else on the host, listening on every address (Kiln's or not): builds must not reach it.
    canary = await serve('0.0.0.0', 0, 'canary\n');
  });

  afterAll(async () => {
    await new Promise((r) => mirror?.close(r));
    await new Promise((r) => canary?.close(r));
    await git?.stop();
    await stack?.stop();
  });

  async function buildRule(s: Scenario, name: string, extra: Record<string, unknown> = {}): Promise<BuildItem> {
    const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/iso/repositories/${name}/build-rules`, {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
      ...extra,
    });
    return buildNow(api, rule.id);
  }

  it('reaches no Kiln service, no other host port and no registry write, on every address it can find; the mirror works', async () => {
    const hostAddrs = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4')
      .map((a) => a?.address as string);
    const canaryPort = (canary.address() as AddressInfo).port;
    const ports = [
      4222,
      4223,
      14222, // NATS: the machine's, Kiln's, the suite's
      5432, // PostgreSQL
      7233,
      8233, // Temporal frontend and UI
      8080,
      8081,
      8082,
      8083,
      8084, // Kiln's services (scripts/kiln up)
      ...Object.values(stack.ports), // this stack's services
      Number(new URL(git.baseUrl).port),
      2222, // the git servers (HTTP, SSH)
      1234,
      2375,
      2376, // BuildKit's and the Docker Engine's TCP APIs, were they listening
      2024,
      canaryPort, // listeners on the host's every address
      5000,
      15060, // the registry and the package mirror: the only ones open, which shows the probe can see open ports
    ];
    const probe = [
      'set -u',
      "gw=$(ip route | awk '/^default/ {print $3}')",
      'own=$(ip -4 addr | awk \'/inet / {sub("/.*", "", $2); print $2}\' | tr "\\n" " ")',
      `for a in $(echo 127.0.0.1 $gw $own ${hostAddrs.join(' ')} | tr ' ' '\\n' | sort -u); do for p in ${ports.join(' ')}; do`,
      '  ( if nc -w 2 $a $p </dev/null >/dev/null 2>&1; then echo "PROBE OPEN $a:$p"; else echo "PROBE closed $a:$p"; fi ) &',
      'done; done; wait',
      // The registry answers a build only as it answers anyone: no anonymous push, delete or listing.
      `printf 'POST /v2/iso/evil/blobs/uploads/ HTTP/1.0\\r\\nContent-Length: 0\\r\\n\\r\\n' | nc -w 5 ${services.buildHost} 5000 | head -1 | sed 's/^/REGISTRY push: /'`,
      `printf 'DELETE /v2/kiln/busybox/manifests/local HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${services.buildHost} 5000 | head -1 | sed 's/^/REGISTRY delete: /'`,
      `printf 'GET /v2/_catalog HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${services.buildHost} 5000 | head -1 | sed 's/^/REGISTRY catalog: /'`,
      // No engine socket is inside a step.
      'for s in /run/buildkit/buildkitd.sock /var/run/docker.sock /run/docker.sock; do [ -e $s ] && echo "SOCKET $s" || true; done',
      `echo "MIRROR $(wget -q -O - http://${services.buildHost}:15060/pkg/hello.txt)"`,
    ].join('\n');
    const s = await Scenario.create(api, git, `acme/hostile-${run}`);
    s.repo.commit({ 'probe.sh': probe + '\n', Dockerfile: 'FROM kiln/busybox:local\nCOPY probe.sh /probe.sh\nRUN sh /probe.sh\n' }, 'hostile');
    s.repo.push('refs/heads/main');
    const b = await buildRule(s, 'hostile');
    const logs = (await api.ok<{ items: Line[] }>('GET', `/api/v1/builds/${b.id}/logs?step=build&limit=5000`)).items.map((l) => l.text);
    expect(b.status).toBe('succeeded');

    const probes = logs.filter((t) => t.startsWith('PROBE '));
    const open = probes.filter((t) => t.startsWith('PROBE OPEN ')).map((t) => t.slice('PROBE OPEN '.length));
    // Every address was probed on every port (loopback, gateway, its own, the host's), and only two answered.
    const addresses = new Set(probes.map((t) => t.split(' ')[2].split(':')[0]));
    for (const a of ['127.0.0.1', services.buildHost, ...hostAddrs]) expect(addresses).toContain(a);
    for (const a of addresses) for (const p of ports) expect(probes.some((t) => t.endsWith(` ${a}:${p}`))).toBe(true);
    expect(open.sort()).toEqual([`${services.buildHost}:15060`, `${services.buildHost}:5000`]);
    expect(logs).toContain('REGISTRY push: HTTP/1.0 401 Unauthorized');
    expect(logs).toContain('REGISTRY delete: HTTP/1.0 401 Unauthorized');
    expect(logs).toContain('REGISTRY catalog: HTTP/1.0 401 Unauthorized');
    expect(logs.filter((t) => t.startsWith('SOCKET '))).toEqual([]);
    expect(logs).toContain(`MIRROR mirror-ok-${run}`);
  });

  it('refuses an anonymous push to the registry from anywhere; Kiln pushes with its credentials', async () => {
    const anonymous = await fetch(`http://${services.registry}/v2/iso/anon/blobs/uploads/`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const anonymousRead = await fetch(`http://${services.registry}/v2/kiln/busybox/manifests/local`);
    expect(anonymousRead.status).toBe(401);
    expect((await registryFetch('/v2/kiln/busybox/manifests/local', { method: 'HEAD' })).status).toBe(200);
  });

  it('honours .dockerignore as docker build does: patterns, exceptions, and <Dockerfile>.dockerignore beside a custom Dockerfile', async () => {
    const s = await Scenario.create(api, git, `acme/ignore-${run}`);
    s.repo.commit(
      {
        '.dockerignore': '.env\nsecrets/\n!secrets/public.txt\n**/*.log\n',
        '.env': 'API_KEY=do-not-ship\n',
        'secrets/key.pem': 'PRIVATE\n',
        'secrets/public.txt': 'public\n',
        'app/main.txt': 'main\n',
        'app/debug.log': 'noise\n',
        Dockerfile: 'FROM kiln/busybox:local\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sort > /ctx.list\n',
        'docker/app.Dockerfile': 'FROM kiln/busybox:local\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sort > /ctx.list\n',
        // Beside a custom Dockerfile, its own ignore file replaces the context's.
        'docker/app.Dockerfile.dockerignore': 'app/\n',
        'copy-ignored/Dockerfile': 'FROM kiln/busybox:local\nCOPY .env /env\n',
      },
      'ignore files',
    );
    s.repo.push('refs/heads/main');

    const root = await buildRule(s, 'ignore-root');
    expect(root.status).toBe('succeeded');
    expect((await pullAndRun(root.tags[0], ['cat', '/ctx.list'])).trim().split('\n')).toEqual([
      './.dockerignore',
      './Dockerfile',
      './app/main.txt',
      './copy-ignored/Dockerfile',
      './docker/app.Dockerfile',
      './docker/app.Dockerfile.dockerignore',
      './secrets/public.txt',
    ]);

    const custom = await buildRule(s, 'ignore-custom', { dockerfilePath: 'docker/app.Dockerfile' });
    expect(custom.status).toBe('succeeded');
    const listed = (await pullAndRun(custom.tags[0], ['cat', '/ctx.list'])).trim().split('\n');
    expect(listed).toContain('./.env');
    expect(listed).toContain('./secrets/key.pem');
    expect(listed.filter((f) => f.startsWith('./app/'))).toEqual([]);

    // A COPY of an ignored file fails as it would with docker build.
    const copy = await buildRule(s, 'ignore-copy', { dockerfilePath: 'copy-ignored/Dockerfile' });
    expect(copy.status).toBe('failed');
    expect(copy.failure).toMatchObject({ type: 'BuildStepFailed', message: expect.stringMatching(/COPY \.env \/env.*not found/s) });
  });
});

describe('every control-plane connection is authenticated and least-privilege', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;

  onStack(sharedStack, (t) => ({ stack, git, api } = t));

  const asUser = (user: string, password = natsPassword(user)) => connect(natsOptions({ url: services.nats, user, password }, `probe-${user}`));

  it('refuses anonymous NATS connections and wrong passwords', async () => {
    await expect(connect({ servers: services.nats, name: 'anonymous' })).rejects.toThrow(/Authorization Violation/i);
    await expect(asUser('gateway', 'not-the-password')).rejects.toThrow(/Authorization Violation/i);
  });

  it("lets only the build worker ask for a source's credentials, and no service read another's replies", async () => {
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'creds-probe', baseUrl: git.baseUrl, token: 'probe-token-123' });
    const request = JSON.stringify({ pattern: sourcesCredentials.pattern, data: { id: source.id }, id: '1' });
    // The worker's own user gets the answer (so the refusals below are the permissions, not a broken subject).
    const worker = await asUser('build-orchestrator');
    try {
      const answer = await worker.request(sourcesCredentials.pattern, new TextEncoder().encode(request), { timeout: 5_000 });
      expect(new TextDecoder().decode(answer.data)).toContain('probe-token-123');
    } finally {
      await worker.close();
    }
    for (const user of ['gateway', 'webhook-ingest', 'log-service']) {
      const nc = await asUser(user);
      try {
        await expect(nc.request(sourcesCredentials.pattern, new TextEncoder().encode(request), { timeout: 3_000 })).rejects.toThrow(/Permissions Violation|TIMEOUT|503/i);
        // Subscribing to the worker's reply inbox, or to every inbox, is refused.
        for (const subject of ['_INBOX_build-orchestrator.>', '_INBOX.>', '>']) {
          const sub = nc.subscribe(subject);
          await expect(
            (async () => {
              for await (const m of sub) void m;
            })(),
          ).rejects.toThrow(/Permissions Violation/i);
        }
      } finally {
        await nc.close().catch(() => undefined);
      }
    }
  });

  it('refuses a PostgreSQL login as Kiln without its password, and takes it with the password', async () => {
    const url = (password: string | null) => `postgres://kiln${password === null ? '' : `:${encodeURIComponent(password)}`}@127.0.0.1:5432/${stack.database}`;
    for (const bad of [null, '', 'wrong-password']) {
      const pg = new PgClient({ connectionString: url(bad) });
      await expect(pg.connect()).rejects.toThrow(/password/i);
      await pg.end().catch(() => undefined);
    }
    const pg = new PgClient({ connectionString: url(postgresPassword()) });
    await pg.connect();
    try {
      expect((await pg.query('SELECT current_user AS u')).rows[0].u).toBe('kiln');
    } finally {
      await pg.end();
    }
  });
});
