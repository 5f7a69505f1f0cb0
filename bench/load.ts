import net from 'node:net';

export interface LoadResult {
  requests: number;
  ok2xx: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Every request's latency, ms, sorted. */
  latencies: number[];
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Several runs against the same target as one: their requests over their summed time, percentiles over all. */
export function mergeLoads(runs: LoadResult[]): LoadResult {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((t, r) => t + r.seconds, 0);
  const sum = (f: (r: LoadResult) => number) => runs.reduce((t, r) => t + f(r), 0);
  return {
    requests: latencies.length,
    ok2xx: sum((r) => r.ok2xx),
    errors: sum((r) => r.errors),
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    latencies,
  };
}

export interface Request {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** One request as the bytes that go on the wire (HTTP/1.1, keep-alive). */
export function wireRequest(port: number, r: Request): Buffer {
  const body = Buffer.from(r.body, 'utf8');
  const head = [`POST ${r.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`), `Content-Length: ${body.length}`, '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/**
 * Signs and serializes `count` requests ahead of a run, as wrk replays prepared requests: the load generator shares
 * the machine's two cores with the servers it measures, so building and signing payloads inside the timed window
 * would take CPU from them. A run that outlasts the prepared requests makes more on the fly.
 */
export function prepare(port: number, next: () => Request, count: number): () => Buffer {
  const ready = Array.from({ length: count }, () => wireRequest(port, next()));
  let i = 0;
  return () => (i < ready.length ? ready[i++] : wireRequest(port, next()));
}

/**
 * A minimal HTTP/1.1 keep-alive client on one socket: writes prepared request bytes, reads the status line and
 * Content-Length of each answer. Node's http client costs ~60 µs of CPU per request here, which on a 2-core machine
 * is CPU the measured server does not get.
 */
class Connection {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private pending: ((status: number) => void) | null = null;
  private failed: Error | null = null;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.parse();
    });
    const fail = (err: Error) => {
      this.failed = err;
      const p = this.pending;
      this.pending = null;
      p?.(0);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  send(request: Buffer): Promise<number> {
    if (this.failed) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.pending = resolve;
      this.socket.write(request);
    });
  }

  private parse(): void {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffered.toString('latin1', 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) throw new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`);
    const total = end + 4 + Number(length[1]);
    if (this.buffered.length < total) return;
    this.buffered = this.buffered.subarray(total);
    const p = this.pending;
    this.pending = null;
    p?.(Number(head.slice(9, 12)));
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Load over `connections` keep-alive connections on loopback for `seconds`. Closed loop by default: each connection
 * sends the next request as soon as the previous answer arrives (the server's saturation throughput). With
 * `ratePerSecond`, the connections together send at that rate on a fixed schedule, and latency counts from each
 * request's scheduled time, so a slow answer that delays the next send is not hidden (no coordinated omission).
 * Latency in milliseconds.
 */
export async function runLoad(port: number, next: () => Buffer, connections: number, seconds: number, ratePerSecond?: number): Promise<LoadResult> {
  const conns = Array.from({ length: connections }, () => new Connection(port));
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
      const request = next();
      const t0 = intervalNs > 0n ? due : process.hrtime.bigint();
      due += intervalNs;
      const status = await conns[index].send(request);
      latencies.push(Math.max(0, Number(process.hrtime.bigint() - t0) / 1e6)); // a paced send may leave a hair before its due time
      if (status >= 200 && status < 300) ok2xx++;
      else errors++;
      if (status === 0) break; // the connection failed: counted once, not spun on
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  for (const c of conns) c.close();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, ok2xx, errors, seconds: elapsed, rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), latencies };
}
