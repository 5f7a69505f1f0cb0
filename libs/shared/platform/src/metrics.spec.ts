import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics, METRICS, routeOf } from './metrics';

/** Every series name an app of Kiln can export: the process metrics prom-client collects, and Kiln's own. */
async function exported(): Promise<Set<string>> {
  const m = new Metrics('spec');
  for (const def of Object.values(METRICS)) {
    if ('buckets' in def) m.histogram(def);
    else if (def.name.endsWith('_total')) m.counter(def);
    else m.gauge(def);
  }
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

describe('metrics', () => {
  it("names in every Grafana panel's query only metrics Kiln exports", async () => {
    const dashboard = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'deploy', 'grafana', 'kiln.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const names = await exported();
    expect(dashboard.panels.length).toBeGreaterThan(8);
    for (const panel of dashboard.panels) {
      const used = panel.targets.flatMap((t) => t.expr.match(/\bkiln_[a-z0-9_]+/g) ?? []);
      expect({ panel: panel.title, queries: used.length > 0 }).toEqual({ panel: panel.title, queries: true });
      for (const name of used) expect({ panel: panel.title, name, exported: names.has(name) }).toEqual({ panel: panel.title, name, exported: true });
    }
    // Each of Kiln's own metrics is on the dashboard.
    const shown = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    for (const def of Object.values(METRICS)) expect({ metric: def.name, shown: shown.includes(def.name) }).toEqual({ metric: def.name, shown: true });
  });

  it('labels a request by its route, not its ids, so the series stay few', () => {
    expect(routeOf('/api/v1/builds/3f2a9c1e-0000-4000-8000-000000000001/logs?tail=5')).toBe('/api/v1/builds/:id/logs');
    expect(routeOf('/webhooks/3f2a9c1e-0000-4000-8000-000000000001')).toBe('/webhooks/:sourceId');
    expect(routeOf('/webhooks/not-a-uuid')).toBe('/webhooks/:sourceId');
    expect(routeOf('/assets/index-BBoLkjMW.js')).toBe('/assets/:file');
    expect(routeOf('/health')).toBe('/health');
  });

  it('counts and exposes a recorded series with the service label', async () => {
    const m = new Metrics('webhook-ingest');
    m.counter(METRICS.webhookDeliveries).inc({ provider: 'github', outcome: 'accepted' });
    m.counter(METRICS.webhookDeliveries).inc({ provider: 'github', outcome: 'accepted' });
    expect(await m.registry.metrics()).toContain('kiln_webhook_deliveries_total{provider="github",outcome="accepted",service="webhook-ingest"} 2');
  });
});
