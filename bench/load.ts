import http from 'node:http';

export interface LoadResult {
  requests: number;
  ok2xx: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
}

export interface Request {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Load over `connections` keep-alive connections on loopback for `seconds`. Closed loop by default: each connection
 * sends the next request as soon as the previous answer arrives (the server's saturation throughput). With
 * `ratePerSecond`, the connections together send at that rate on a fixed schedule, and latency counts from each
 * request's scheduled time, so a slow answer that delays the next send is not hidden (no coordinated omission).
 * Latency in milliseconds.
 */
export async function runLoad(port: number, next: () => Request, connections: number, seconds: number, ratePerSecond?: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let ok2xx = 0;
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  const intervalNs = ratePerSecond ? BigInt(Math.round((connections / ratePerSecond) * 1e9)) : 0n;
  const worker = async (index: number) => {
    // Paced connections start staggered, so the sends spread evenly over each interval.
    let due = started + (intervalNs * BigInt(index)) / BigInt(connections);
    while (Date.now() < deadline) {
      if (intervalNs > 0n) {
        const wait = Number(due - process.hrtime.bigint()) / 1e6;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const r = next();
      const t0 = intervalNs > 0n ? due : process.hrtime.bigint();
      due += intervalNs;
      const status = await new Promise<number>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: r.path, method: 'POST', agent, headers: { ...r.headers, 'content-length': Buffer.byteLength(r.body) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(0));
        req.end(r.body);
      });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (status >= 200 && status < 300) ok2xx++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return { requests: latencies.length, ok2xx, errors, seconds: elapsed, rps: latencies.length / elapsed, p50: pct(50), p99: pct(99) };
}
