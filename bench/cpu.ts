import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every architecture Kiln runs on). */
const TICKS_PER_SECOND = 100;

/** Which part of the system a process is, from its command line; null for processes that are none of them. */
function label(pid: number, cmdline: string): string | null {
  if (pid === process.pid) return 'load generator';
  const app = /dist\/apps\/([^/]+)\//.exec(cmdline);
  if (app) return app[1];
  // An app's process launcher (libs/shared/platform/src/launcher.ts) counts as the app: it runs the app's git and buildctl.
  if (/launcher-process\.js/.test(cmdline)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const parent = label(ppid, readFileSync(`/proc/${ppid}/cmdline`, 'utf8').replace(/\0/g, ' '));
      return parent ? `${parent}: launcher` : null;
    } catch {
      return null;
    }
  }
  if (/(^|\/)nats-server\b/.test(cmdline)) return 'nats-server';
  if (/^postgres\b/.test(cmdline)) return 'postgres';
  if (/(^|\/)buildkitd/.test(cmdline)) return 'buildkitd';
  if (/(^|\/)temporal\S* server start-dev/.test(cmdline)) return 'temporal';
  if (/docker-registry|registry serve/.test(cmdline)) return 'registry';
  if (/tools\/git-http-server\.js/.test(cmdline)) return 'git server';
  return null;
}

/**
 * CPU seconds used so far (user + system, all threads) by each part, summed over its processes; the children they
 * have waited for (an app's git and buildctl runs, buildkitd's build steps) count as `<part>: what it ran`.
 */
export function cpuByPart(): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const part = label(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' '));
      if (!part) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14th and 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime; cutime and cstime (the children it waited for) under a name of their own.
      const own = Number(fields[11]) + Number(fields[12]);
      const children = Number(fields[13]) + Number(fields[14]);
      out.set(part, (out.get(part) ?? 0) + own / TICKS_PER_SECOND);
      if (children > 0) out.set(`${part}: what it ran`, (out.get(`${part}: what it ran`) ?? 0) + children / TICKS_PER_SECOND);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return out;
}

/** What each part used between two snapshots. */
export function cpuSince(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([part, s]) => [part, s - (before.get(part) ?? 0)]));
}

export function addCpu(total: Map<string, number>, more: Map<string, number>): void {
  for (const [part, s] of more) total.set(part, (total.get(part) ?? 0) + s);
}

/** The machine's CPU time so far, busy and all, in clock ticks (the `cpu` line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  // idle and iowait are the time nothing ran.
  return { busy: total - fields[3] - fields[4], total };
}

/**
 * Waits until the machine is quiet: less than `threshold` of its CPUs busy over a 500 ms window (the settling of
 * what a case just did: a daemon stopped, a folder removed, an app started and compiling its code), at most `maxMs`.
 * Answers how long it waited.
 */
export async function machineQuiet(threshold = 0.2, maxMs = 15_000): Promise<number> {
  const start = Date.now();
  let before = machineTicks();
  while (Date.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 500));
    const now = machineTicks();
    const busy = (now.busy - before.busy) / Math.max(1, now.total - before.total);
    before = now;
    if (busy < threshold) break;
  }
  return Date.now() - start;
}
