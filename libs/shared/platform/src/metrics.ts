import { Injectable } from '@nestjs/common';
import type { IncomingMessage, Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric Kiln exports, by name: declared here once so a dashboard can be checked against the list
 * (`deploy/grafana/kiln.json`'s test) and each app registers only what it records.
 */
export const METRICS = {
  httpRequests: { name: 'kiln_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'] },
  httpDuration: {
    name: 'kiln_http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  },
  webhookDeliveries: { name: 'kiln_webhook_deliveries_total', help: 'Webhook deliveries by provider and outcome (accepted, ping, ignored, refused)', labelNames: ['provider', 'outcome'] },
  builds: { name: 'kiln_builds_total', help: 'Builds that reached a status (queued, running, succeeded, failed, cancelled)', labelNames: ['status'] },
  stepDuration: {
    name: 'kiln_build_step_duration_seconds',
    help: 'Duration of a finished build step attempt',
    labelNames: ['step', 'status'],
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
  },
  logLines: { name: 'kiln_log_lines_written_total', help: 'Build log lines stored' },
  slotsInUse: { name: 'kiln_build_slots_in_use', help: 'Builds this worker runs now' },
  slots: { name: 'kiln_build_slots', help: 'Builds this worker may run at once' },
  consumerPending: {
    name: 'kiln_jetstream_consumer_pending',
    help: 'Messages a JetStream consumer has not yet been given (its lag), and those given but not acknowledged',
    labelNames: ['stream', 'consumer', 'kind'],
  },
} as const;

/** The Node.js process metrics prom-client collects, under this prefix. */
export const PROCESS_METRICS_PREFIX = 'kiln_';

type Def = { name: string; help: string; labelNames?: readonly string[]; buckets?: readonly number[] };

/** One registry per app, with its service name on every series; metrics are made on first use. */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly made = new Map<string, Counter | Gauge | Histogram>();
  private readonly externals: Array<() => Promise<string>> = [];

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry, prefix: PROCESS_METRICS_PREFIX });
  }

  /** Series another exporter of this process serves (the Temporal SDK's), appended to each scrape. */
  addExternal(read: () => Promise<string>): void {
    this.externals.push(read);
  }

  /** The whole scrape: this registry, then each external exporter's text (one that fails is left out). */
  async text(): Promise<string> {
    const parts = await Promise.all([this.registry.metrics(), ...this.externals.map((read) => read().catch(() => ''))]);
    return parts.map((p) => (p.endsWith('\n') || p === '' ? p : `${p}\n`)).join('');
  }

  counter(def: Def): Counter {
    return this.make(def, () => new Counter({ name: def.name, help: def.help, labelNames: [...(def.labelNames ?? [])], registers: [this.registry] })) as Counter;
  }

  gauge(def: Def, collect?: (g: Gauge) => void | Promise<void>): Gauge {
    return this.make(
      def,
      () =>
        new Gauge({
          name: def.name,
          help: def.help,
          labelNames: [...(def.labelNames ?? [])],
          registers: [this.registry],
          ...(collect
            ? {
                collect: async function (this: Gauge) {
                  await collect(this);
                },
              }
            : {}),
        }),
    ) as Gauge;
  }

  histogram(def: Def): Histogram {
    return this.make(def, () => new Histogram({ name: def.name, help: def.help, labelNames: [...(def.labelNames ?? [])], buckets: [...(def.buckets ?? [])], registers: [this.registry] })) as Histogram;
  }

  private make(def: Def, create: () => Counter | Gauge | Histogram): Counter | Gauge | Histogram {
    let m = this.made.get(def.name);
    if (!m) this.made.set(def.name, (m = create()));
    return m;
  }

  /**
   * Request rate and latency of every HTTP request the server answers, on Express or Fastify. The route is the one
   * Express matched (`req.route`: `/api/v1/builds/:id`); without one (Fastify sets none), the path with its ids
   * replaced, and `(unmatched)` for a 404, so that the series stay few whatever clients ask for.
   */
  instrumentHttp(server: Server): void {
    const requests = this.counter(METRICS.httpRequests);
    const duration = this.histogram(METRICS.httpDuration);
    server.prependListener('request', (req: IncomingMessage, res) => {
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const r = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };
        const route = typeof r.route?.path === 'string' ? `${r.baseUrl ?? ''}${r.route.path}` : res.statusCode === 404 ? '(unmatched)' : routeOf(req.url ?? '/');
        requests.inc({ method: req.method ?? 'GET', route, status: String(res.statusCode) });
        duration.observe({ method: req.method ?? 'GET', route }, Number(process.hrtime.bigint() - started) / 1e9);
      });
    });
  }
}

/** `/api/v1/builds/3f2a…/logs?tail=5` → `/api/v1/builds/:id/logs`. */
export function routeOf(url: string): string {
  const path = url.split('?')[0];
  const parts = path.split('/').map((p) => (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(p) || /^\d+$/.test(p) ? ':id' : p));
  if (parts[1] === 'webhooks' && parts.length > 2) parts[2] = ':sourceId';
  if (parts[1] === 'assets') return '/assets/:file';
  return parts.slice(0, 8).join('/') || '/';
}
