import { ChildProcess, spawn } from 'node:child_process';
import type { FromLauncher, ToLauncher } from './launcher';

/**
 * The launcher's helper process (see launcher.ts): spawns what its parent asks for and relays each child's output,
 * errors and end over the IPC channel. It keeps no state beyond the children it runs, and ends with its parent.
 */
const children = new Map<number, ChildProcess>();
const send = (m: FromLauncher) => process.send?.(m);

process.on('message', (m: ToLauncher) => {
  if (m.op === 'kill') {
    children.get(m.id)?.kill(m.signal);
    return;
  }
  let child: ChildProcess;
  // A child inherits the umask it is spawned with: set for this one spawn (synchronous), then put back.
  const umask = m.umask === undefined ? null : process.umask(m.umask);
  try {
    child = spawn(m.cmd, m.args, { cwd: m.cwd, env: m.env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    send({ id: m.id, ev: 'error', message: (err as Error).message, code: (err as NodeJS.ErrnoException).code });
    send({ id: m.id, ev: 'close', code: null, signal: null });
    return;
  } finally {
    if (umask !== null) process.umask(umask);
  }
  children.set(m.id, child);
  child.stdout?.on('data', (data: Buffer) => send({ id: m.id, ev: 'out', data }));
  child.stderr?.on('data', (data: Buffer) => send({ id: m.id, ev: 'err', data }));
  child.on('error', (err: NodeJS.ErrnoException) => send({ id: m.id, ev: 'error', message: err.message, code: err.code }));
  child.on('close', (code, signal) => {
    children.delete(m.id);
    send({ id: m.id, ev: 'close', code, signal });
  });
});

// The parent is gone: so is the reason to be here. Children still running go on, as they would have without a helper.
process.on('disconnect', () => process.exit(0));
