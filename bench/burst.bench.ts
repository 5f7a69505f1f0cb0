import { Api } from '../test/e2e/support/api';
import { burstSucceeded, placements, pushBurst, startSecondWorker } from '../test/e2e/support/burst';
import { GitFixture } from '../test/e2e/support/git-fixture';
import { startStack } from '../test/e2e/support/stack';
import { addCpu, cpuByPart, cpuSince } from './cpu';

/**
 * A burst of pushes (one build each) on one build worker, then on two workers side by side, each beside its own
 * BuildKit: the time from the first webhook to the last build succeeded, and each worker's share. Each worker keeps
 * its default of 2 build slots. Both workers run on this one machine, so they share its cores: builds that wait (a
 * download, a test's sleep) gain the most from a second worker here; on separate machines, CPU-bound ones would too.
 */
const COUNT = Number(process.env.BENCH_BURST ?? 20);
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_RUNS ?? 2);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  console.log(`A burst of ${COUNT} pushes, each build waiting ${STEP_SECONDS} s in a RUN step; one worker, then two; ${ROUNDS} rounds each\n`);
  const stack = await startStack(20280);
  const git = await GitFixture.start();
  let second: Awaited<ReturnType<typeof startSecondWorker>> | null = null;
  try {
    const api = new Api(stack.gatewayUrl, stack.adminToken);
    const cpu = { one: new Map<string, number>(), two: new Map<string, number>() };
    const burst = async (name: string, into: Map<string, number>) => {
      const b = await pushBurst(api, git, name, COUNT, STEP_SECONDS);
      const before = cpuByPart();
      const items = await burstSucceeded(b, COUNT, 900_000);
      addCpu(into, cpuSince(before, cpuByPart()));
      const ms = Math.max(...items.map((i) => Date.parse(i.finishedAt ?? ''))) - (performance.timeOrigin + b.sentAt);
      const placed = await placements(items.map((i) => i.workflowId));
      const shares = new Map<string, number>();
      for (const p of placed) shares.set(p.workers.at(-1) ?? '?', (shares.get(p.workers.at(-1) ?? '?') ?? 0) + 1);
      return { ms, shares };
    };
    const one: number[] = [];
    for (let r = 0; r < ROUNDS; r++) one.push((await burst(`one-${r}`, cpu.one)).ms);
    second = await startSecondWorker(stack, `bench-second-${process.pid}`);
    const two: number[] = [];
    const shares: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const res = await burst(`two-${r}`, cpu.two);
      two.push(res.ms);
      shares.push([...res.shares.entries()].map(([w, n]) => `${w} ${n} (${Math.round((100 * n) / COUNT)} %)`).join(', '));
    }
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const ratio = median(two) / median(one);
    console.log(`${''.padEnd(36)}${'one worker'.padStart(12)}${'two workers'.padStart(14)}   goal`);
    console.log(
      `${`burst of ${COUNT}, first webhook → last build`.padEnd(36)}${s(median(one)).padStart(12)}${s(median(two)).padStart(14)}   ${ratio.toFixed(2)}× (≤ 0.60×: ${ratio <= 0.6 ? 'met' : 'NOT met'})`,
    );
    console.log(`\nall rounds: one worker ${one.map(s).join(' ')} | two workers ${two.map(s).join(' ')}`);
    console.log(`shares with two workers: ${shares.join(' | ')}`);
    // Where the machine's CPU went, per build (the first webhook to the last build; processes Kiln's tests start too).
    const parts = [...new Set([...cpu.one.keys(), ...cpu.two.keys()])].sort((a, b) => (cpu.two.get(b) ?? 0) - (cpu.two.get(a) ?? 0));
    const perBuild = (m: Map<string, number>, p: string) => `${((m.get(p) ?? 0) / (ROUNDS * COUNT)).toFixed(2)} s`;
    const width = Math.max(34, ...parts.map((p) => p.length + 2));
    console.log(`\n${'CPU per build'.padEnd(width + 2)}${'one worker'.padStart(12)}${'two workers'.padStart(14)}`);
    for (const p of parts) console.log(`  ${p.padEnd(width)}${perBuild(cpu.one, p).padStart(12)}${perBuild(cpu.two, p).padStart(14)}`);
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    console.log(`  ${'all'.padEnd(width)}${`${(sum(cpu.one) / (ROUNDS * COUNT)).toFixed(2)} s`.padStart(12)}${`${(sum(cpu.two) / (ROUNDS * COUNT)).toFixed(2)} s`.padStart(14)}`);
  } finally {
    await second?.stop();
    await git.stop();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
