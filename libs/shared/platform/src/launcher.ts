import { ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';

/** What the parent asks of the helper. */
export type ToLauncher = { op: 'spawn'; id: number; cmd: string; args: string[]; cwd?: string; env?: NodeJS.ProcessEnv; umask?: number } | { op: 'kill'; id: number; signal: NodeJS.Signals };
/** What the helper tells the parent of a child: output, a spawn error, its end. */
export type FromLauncher =
  | { id: number; ev: 'out' | 'err'; data: Buffer | Uint8Array }
  | { id: number; ev: 'error'; message: string; code?: string }
  | { id: number; ev: 'close'; code: number | null; signal: NodeJS.Signals | null };

/**
 * A child process run by the launcher: `stdout` and `stderr` streams, `kill()`, and the events of Node's
 * ChildProcess that Kiln uses (`error`, `exit`, `close` with the code and signal).
 */
export interface Launched extends EventEmitter {
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  kill(signal?: NodeJS.Signals): void;
}

class LaunchedProcess extends EventEmitter implements Launched {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private ended = false;

  constructor(private readonly signal: (signal: NodeJS.Signals) => void) {
    super();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.ended) this.signal(signal);
  }

  /** As Node's ChildProcess: `exit`, then `close` once both output streams have delivered all they hold. */
  end(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return;
    this.ended = true;
    const drained = (s: PassThrough) =>
      new Promise<void>((resolve) => {
        if (s.readableEnded) return resolve();
        s.once('end', resolve);
        if (!s.readableFlowing) s.resume(); // nobody reads it: let it end anyway
      });
    this.stdout.end();
    this.stderr.end();
    this.emit('exit', code, signal);
    void Promise.all([drained(this.stdout), drained(this.stderr)]).then(() => this.emit('close', code, signal));
  }
}

const HELPER = [join(__dirname, 'launcher-process.js'), resolve(__dirname, '../../../../dist/libs/shared/platform/src/launcher-process.js')].find((p) => existsSync(p));

/**
 * Runs child processes (git, buildctl) from a small helper process instead of this one. Node spawns with fork(),
 * whose cost grows with the parent's memory and blocks its event loop meanwhile: in a build worker (Temporal's core,
 * its workflow isolates) a spawn took about 30 ms of the main thread, against about 7 ms from a small process, and a
 * build spawns ten or so. The helper starts on first use and again if it dies (its running children are then
 * reported as failed).
 */
export class Launcher {
  private helper: ChildProcess | null = null;
  private readonly running = new Map<number, LaunchedProcess>();
  private nextId = 1;

  spawn(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; umask?: number } = {}): Launched {
    const helper = this.ensure();
    const id = this.nextId++;
    const p = new LaunchedProcess((signal) => this.helper?.send({ op: 'kill', id, signal } satisfies ToLauncher));
    this.running.set(id, p);
    helper.send({ op: 'spawn', id, cmd, args, cwd: opts.cwd, env: opts.env, umask: opts.umask } satisfies ToLauncher);
    return p;
  }

  /**
   * Starts the helper now, off the path of the first command (a Node process takes 100-150 ms to start here):
   * a build worker calls it at start-up. Answers the helper's pid.
   */
  warm(): number | undefined {
    return this.ensure().pid;
  }

  private ensure(): ChildProcess {
    if (this.helper?.connected) return this.helper;
    if (!HELPER) throw new Error('the process launcher is not compiled (dist/libs/shared/platform/src/launcher-process.js): run `scripts/kiln build`');
    const helper = fork(HELPER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    helper.on('message', (m: FromLauncher) => this.receive(m));
    helper.once('exit', () => {
      if (this.helper === helper) this.helper = null;
      for (const [id, p] of this.running) {
        p.emit('error', new Error('the process launcher stopped'));
        p.end(null, null);
        this.running.delete(id);
      }
    });
    // Neither the helper nor its channel keeps this process alive: what waits on a child keeps it alive itself.
    helper.unref();
    helper.channel?.unref();
    this.helper = helper;
    return helper;
  }

  private receive(m: FromLauncher): void {
    const p = this.running.get(m.id);
    if (!p) return;
    switch (m.ev) {
      case 'out':
        p.stdout.write(Buffer.from(m.data));
        break;
      case 'err':
        p.stderr.write(Buffer.from(m.data));
        break;
      case 'error':
        p.emit('error', Object.assign(new Error(m.message), { code: m.code }));
        break;
      case 'close':
        this.running.delete(m.id);
        p.end(m.code, m.signal);
    }
  }
}

/** The process's one launcher. */
export const launcher = new Launcher();
