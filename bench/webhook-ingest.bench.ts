import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { githubPush, PushFacts } from '@kiln/testing';
import { Api } from '../test/e2e/support/api';
import { ROOT, startStack, storedPushes } from '../test/e2e/support/stack';
import { runLoad } from './load';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = 2;
const BARE_PORT = 18399;

/** Signed GitHub pushes, each with its own delivery id (so each one is a new event that must be stored). */
function deliveries(secret: string, path: string) {
  let i = 0;
  return () => {
    i++;
    const sha = (n: number) => n.toString(16).padStart(40, '0');
    const facts: PushFacts = {
      repo: 'bench/app',
      ref: 'refs/heads/main',
      before: sha(i),
      after: sha(i + 1),
      commit: { id: sha(i + 1), message: `commit ${i}`, timestamp: '2026-11-27T08:30:15Z', authorName: 'Bench', authorEmail: 'bench@example.com' },
      cloneUrl: 'http://127.0.0.1:1/bench/app.git',
    };
    const d = githubPush(facts, secret, { deliveryId: randomUUID() });
    return { path, headers: d.headers, body: d.body };
  };
}

async function main(): Promise<void> {
  const secret = 'bench-webhook-secret-0123456789';
  console.log(`Webhook ingest benchmark: signed GitHub pushes, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per target after ${WARMUP} s warm-up\n`);

  const bare = spawn(process.execPath, [join(ROOT, 'bench', 'bare-webhook-server.js'), String(BARE_PORT), secret], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => bare.stdout?.once('data', r));
  await runLoad(BARE_PORT, deliveries(secret, '/'), CONNECTIONS, WARMUP);
  const baseline = await runLoad(BARE_PORT, deliveries(secret, '/'), CONNECTIONS, SECONDS);
  // Latency at the goal's throughput (0.4x what the bare server managed), paced over the same connections.
  const goalRate = 0.4 * baseline.rps;
  const barePaced = await runLoad(BARE_PORT, deliveries(secret, '/'), CONNECTIONS, SECONDS, goalRate);
  bare.kill();

  const stack = await startStack(18480);
  try {
    const api = new Api(stack.gatewayUrl, stack.adminToken);
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'bench', webhookSecret: secret });
    const path = `/webhooks/${source.id}`;
    const port = stack.ports['webhook-ingest'];
    await runLoad(port, deliveries(secret, path), CONNECTIONS, WARMUP);
    const before = await storedPushes();
    const kiln = await runLoad(port, deliveries(secret, path), CONNECTIONS, SECONDS);
    const stored = (await storedPushes()) - before;
    // At saturation a closed loop's latency is connections / throughput (Little's law), so p99 there mostly restates
    // throughput; the paced run measures latency at the goal's throughput. Both are printed.
    const kilnPaced = await runLoad(port, deliveries(secret, path), CONNECTIONS, SECONDS, goalRate);

    const ratio = kiln.rps / baseline.rps;
    const row = (label: string, a: string, b: string, extra = '') => console.log(`${label.padEnd(26)}${a.padStart(16)}${b.padStart(22)}${extra.padStart(34)}`);
    row('', 'bare node http', 'kiln webhook-ingest', 'goal');
    row('accepted webhooks/s', baseline.rps.toFixed(0), kiln.rps.toFixed(0), `≥ 0.40× bare: ${ratio.toFixed(2)}× ${ratio >= 0.4 ? 'met' : 'NOT met'}`);
    row('saturated p50 / p99 (ms)', `${baseline.p50.toFixed(1)} / ${baseline.p99.toFixed(1)}`, `${kiln.p50.toFixed(1)} / ${kiln.p99.toFixed(1)}`, `p99 < 25 ms: ${kiln.p99 < 25 ? 'met' : 'NOT met'}`);
    row(`at ${goalRate.toFixed(0)}/s: p50 / p99`, `${barePaced.p50.toFixed(1)} / ${barePaced.p99.toFixed(1)}`, `${kilnPaced.p50.toFixed(1)} / ${kilnPaced.p99.toFixed(1)}`, `p99 < 25 ms: ${kilnPaced.p99 < 25 ? 'met' : 'NOT met'}`);
    row(`at ${goalRate.toFixed(0)}/s: achieved/s`, barePaced.rps.toFixed(0), kilnPaced.rps.toFixed(0));
    row('requests / non-2xx', `${baseline.requests} / ${baseline.errors}`, `${kiln.requests} / ${kiln.errors}`);
    row('2xx answers / stored', `${baseline.ok2xx} / n.a.`, `${kiln.ok2xx} / ${stored}`, `equal: ${stored === kiln.ok2xx ? 'met' : 'NOT met'}`);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
