import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { githubPush, PushFacts } from '@kiln/testing';
import { Api } from '../test/e2e/support/api';
import { Client } from 'pg';
import { ROOT, startStack, storedPushes } from '../test/e2e/support/stack';
import { addCpu, cpuByPart, cpuSince } from './cpu';
import { LoadResult, mergeLoads, prepare, runLoad } from './load';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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
  console.log(
    `Webhook ingest benchmark: signed GitHub pushes, ${CONNECTIONS} keep-alive connections; the bare server and Kiln take turns, ${ROUNDS} rounds of ${SECONDS} s each after ${WARMUP} s of warm-up, so that both see the machine alike\n`,
  );

  // Requests are signed before each measured run (enough for 1.3x the warm-up's rate), not inside it.
  const measure = (port: number, path: string, seconds: number, rate: number, paced?: number): Promise<LoadResult> =>
    runLoad(port, prepare(port, deliveries(secret, path), Math.ceil((paced ?? rate * 1.3) * seconds)), CONNECTIONS, seconds, paced);
  const warmUp = (port: number, path: string) => runLoad(port, prepare(port, deliveries(secret, path), 0), CONNECTIONS, WARMUP);

  const bare = spawn(process.execPath, [join(ROOT, 'bench', 'bare-webhook-server.js'), String(BARE_PORT), secret], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => bare.stdout?.once('data', r));
  const stack = await startStack(18480);
  const pg = new Client({ connectionString: stack.databaseAdminUrl });
  await pg.connect();
  try {
    const api = new Api(stack.gatewayUrl, stack.adminToken);
    const source = await api.ok<{ id: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'bench', webhookSecret: secret });
    const path = `/webhooks/${source.id}`;
    const port = stack.ports['webhook-ingest'];
    const ledgerCount = async () => (await pg.query('SELECT count(*)::int AS n FROM rules.push_events')).rows[0].n as number;
    /**
     * How long after a run rules-service had recorded every accepted push in the event ledger (a service that only
     * keeps up by falling behind would show here, not in the throughput). Waiting for it also keeps Kiln's
     * downstream work out of the bare server's next round.
     */
    const ledgerCatchUp = async () => {
      const t0 = performance.now();
      const expected = await storedPushes(stack.natsAdmin);
      while ((await ledgerCount()) < expected && performance.now() - t0 < 600_000) await new Promise((r) => setTimeout(r, 20));
      return performance.now() - t0;
    };

    const bareWarm = await warmUp(BARE_PORT, '/');
    const kilnWarm = await warmUp(port, path);
    await ledgerCatchUp();
    const bareRounds: LoadResult[] = [];
    const kilnRounds: LoadResult[] = [];
    let catchUpMs = 0;
    const storedBefore = await storedPushes(stack.natsAdmin);
    // CPU per accepted push, per part of the system, over Kiln's rounds and the ledger's catch-up after each.
    const kilnCpu = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      bareRounds.push(await measure(BARE_PORT, '/', SECONDS, bareWarm.rps));
      const requests = prepare(port, deliveries(secret, path), Math.ceil(kilnWarm.rps * 1.3 * SECONDS));
      const cpuBefore = cpuByPart(); // after signing the round's requests: the load generator's figure is its sending
      kilnRounds.push(await runLoad(port, requests, CONNECTIONS, SECONDS));
      catchUpMs = Math.max(catchUpMs, await ledgerCatchUp());
      addCpu(kilnCpu, cpuSince(cpuBefore, cpuByPart()));
    }
    const stored = (await storedPushes(stack.natsAdmin)) - storedBefore;
    const baseline = mergeLoads(bareRounds);
    const kiln = mergeLoads(kilnRounds);

    // At saturation a closed loop's latency is connections / throughput (Little's law), so p99 there mostly restates
    // throughput; the paced runs show latency at the goal's throughput, for both. The goal is #18's, through public
    // APIs only: 0.30x the bare server's rate (#5 had asked 0.40x, which a listener ahead of the framework and a
    // hand-written JetStream publisher met; #18 removed both).
    const GOAL = 0.3;
    const goalRate = GOAL * baseline.rps;
    const barePaced = await measure(BARE_PORT, '/', 2 * SECONDS, goalRate, goalRate);
    const kilnPaced = await measure(port, path, 2 * SECONDS, goalRate, goalRate);

    const ratio = kiln.rps / baseline.rps;
    const row = (label: string, a: string, b: string, extra = '') => console.log(`${label.padEnd(26)}${a.padStart(16)}${b.padStart(22)}${extra.padStart(34)}`);
    row('', 'bare node http', 'kiln webhook-ingest', 'goal');
    row('accepted webhooks/s', baseline.rps.toFixed(0), kiln.rps.toFixed(0), `≥ ${GOAL.toFixed(2)}× bare: ${ratio.toFixed(2)}× ${ratio >= GOAL ? 'met' : 'NOT met'}`);
    row(
      '  per round',
      bareRounds.map((r) => r.rps.toFixed(0)).join(' '),
      kilnRounds.map((r) => r.rps.toFixed(0)).join(' '),
      kilnRounds.map((r, i) => `${(r.rps / bareRounds[i].rps).toFixed(2)}×`).join(' '),
    );
    row('saturated p50 / p99 (ms)', `${baseline.p50.toFixed(1)} / ${baseline.p99.toFixed(1)}`, `${kiln.p50.toFixed(1)} / ${kiln.p99.toFixed(1)}`, `p99 < 25 ms: ${kiln.p99 < 25 ? 'met' : 'NOT met'}`);
    // Information, not the goal (that is the saturated p99 at 50 connections above): an open loop at exactly the goal's
    // rate queues as soon as Kiln's capacity is within a few percent of it.
    row(`at ${goalRate.toFixed(0)}/s: p50 / p99`, `${barePaced.p50.toFixed(1)} / ${barePaced.p99.toFixed(1)}`, `${kilnPaced.p50.toFixed(1)} / ${kilnPaced.p99.toFixed(1)}`, `open loop, information`);
    row(`at ${goalRate.toFixed(0)}/s: achieved/s`, barePaced.rps.toFixed(0), kilnPaced.rps.toFixed(0));
    row('requests / non-2xx', `${baseline.requests} / ${baseline.errors}`, `${kiln.requests} / ${kiln.errors}`);
    row('2xx answers / stored', `${baseline.ok2xx} / n.a.`, `${kiln.ok2xx} / ${stored}`, `equal: ${stored === kiln.ok2xx ? 'met' : 'NOT met'}`);
    row('ledger caught up after', 'n.a.', `${catchUpMs.toFixed(0)} ms`);
    const perPush = [...kilnCpu]
      .filter(([, sec]) => sec > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([part, sec]) => [part, (sec * 1e6) / kiln.ok2xx] as const)
      .filter(([, us]) => us >= 1);
    console.log(`\nKiln's CPU per accepted push (µs, all processes of each part, ledger catch-up included; the load generator is the bench itself):`);
    console.log(`  ${perPush.map(([part, us]) => `${part} ${us.toFixed(0)}`).join(' · ')} · total ${perPush.reduce((t, [, us]) => t + us, 0).toFixed(0)}`);
  } finally {
    bare.kill();
    await pg.end();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
