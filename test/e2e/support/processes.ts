import { readdirSync, readFileSync } from 'node:fs';

/**
 * Command lines of the machine's processes that contain `marker`. A build step's processes run in BuildKit's runc
 * containers, which are ordinary processes of this host: a step that was stopped no longer shows here.
 */
export function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline.includes(marker)) found.push(cmdline);
  }
  return found;
}
