import { Api } from './support/api';
import { onStack } from './support/on-stack';
import { GitFixture } from './support/git-fixture';
import { Scenario } from './support/scenario';
import { sharedStack, Stack } from './support/stack';

jest.setTimeout(180_000);

/** The sum of the samples of `name` whose labels include all of `labels` (Prometheus text format). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let found: number | null = null;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(\{([^}]*)\})? ([0-9.eE+-]+|NaN)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) found = (found ?? 0) + Number(m[4]);
  }
  return found;
}

describe('Prometheus metrics on every app', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  onStack(sharedStack, (t) => ({ stack, git, api } = t));

  const scrape = async (app: keyof Stack['ports'], token: string | null = stack.metricsToken) => {
    const res = await fetch(`http://127.0.0.1:${stack.ports[app]}/metrics`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };

  it('answers only a scraper with the metrics token', async () => {
    for (const app of Object.keys(stack.ports) as Array<keyof Stack['ports']>) {
      expect({ app, status: (await scrape(app, null)).status }).toEqual({ app, status: 401 });
      expect({ app, status: (await scrape(app, 'wrong-token-of-the-right-length')).status }).toEqual({ app, status: 401 });
      const ok = await scrape(app);
      expect({ app, status: ok.status }).toEqual({ app, status: 200 });
      expect(ok.type).toContain('text/plain');
      expect(sample(ok.text, 'kiln_process_cpu_seconds_total', { service: app })).toBeGreaterThan(0);
    }
  });

  it('counts a pushed build on its way: the delivery, the requests, the build, its steps, its log lines, the slots and the consumers', async () => {
    const s = await Scenario.create(api, git, `acme/metrics-${run}`);
    const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/metrics/repositories/app-${process.pid}/build-rules`, {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    const before = {
      accepted: sample((await scrape('webhook-ingest')).text, 'kiln_webhook_deliveries_total', { provider: 'github', outcome: 'accepted' }) ?? 0,
      succeeded: sample((await scrape('log-service')).text, 'kiln_builds_total', { status: 'succeeded' }) ?? 0,
      lines: sample((await scrape('log-service')).text, 'kiln_log_lines_written_total') ?? 0,
    };
    s.repo.commit({ Dockerfile: 'FROM kiln/busybox:local\nRUN echo counted\n' }, 'metrics');
    await s.pushAndDeliver('refs/heads/main');
    const build = await s.finished(rule.id, () => true);
    expect(build.status).toBe('succeeded');
    await api.ok('GET', `/api/v1/builds?ruleId=${rule.id}`);

    const ingest = (await scrape('webhook-ingest')).text;
    expect(sample(ingest, 'kiln_webhook_deliveries_total', { provider: 'github', outcome: 'accepted' })).toBe(before.accepted + 1);
    expect(sample(ingest, 'kiln_http_requests_total', { route: '/webhooks/:sourceId', status: '202' })).toBeGreaterThanOrEqual(1);

    const logs = (await scrape('log-service')).text;
    expect(sample(logs, 'kiln_builds_total', { status: 'succeeded' })).toBe(before.succeeded + 1);
    expect(sample(logs, 'kiln_log_lines_written_total')).toBeGreaterThan(before.lines);
    expect(sample(logs, 'kiln_build_step_duration_seconds_count', { step: 'build', status: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(sample(logs, 'kiln_jetstream_consumer_pending', { stream: 'KILN_LOGS', kind: 'pending' })).not.toBeNull();

    const gateway = (await scrape('gateway')).text;
    expect(sample(gateway, 'kiln_http_requests_total', { method: 'GET', route: '/api/v1/builds', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(sample(gateway, 'kiln_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/namespaces/:ns/repositories/:repo/build-rules' })).toBeGreaterThanOrEqual(1);

    const worker = (await scrape('build-orchestrator')).text;
    expect(sample(worker, 'kiln_build_slots')).toBeGreaterThanOrEqual(1);
    expect(sample(worker, 'kiln_build_slots_in_use')).not.toBeNull();
    // The Temporal SDK's own metrics, through the same authenticated endpoint.
    expect(worker).toMatch(/^temporal_[a-z_]+/m);
    expect(sample((await scrape('rules-service')).text, 'kiln_jetstream_consumer_pending', { stream: 'KILN_EVENTS', kind: 'pending' })).not.toBeNull();
  });
});
