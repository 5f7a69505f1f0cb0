import { Launched, Launcher } from './launcher';

/** Everything a launched process said, and how it ended. */
function outcome(p: Launched): Promise<{ out: Buffer; err: string; code: number | null; signal: string | null; error?: string }> {
  const out: Buffer[] = [];
  let err = '';
  let error: string | undefined;
  p.stdout.on('data', (d: Buffer) => out.push(d));
  p.stderr.setEncoding('utf8');
  p.stderr.on('data', (d: string) => (err += d));
  p.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  return new Promise((resolve) => p.once('close', (code, signal) => resolve({ out: Buffer.concat(out), err, code, signal, error })));
}

describe('Launcher: child processes run from a small helper process', () => {
  const launcher = new Launcher();

  it('relays both output streams whole and in order, and the exit code', async () => {
    const r = await outcome(launcher.spawn('sh', ['-c', 'echo one; echo warn >&2; head -c 3000000 /dev/zero | tr "\\0" x; echo; exit 3']));
    expect(r.code).toBe(3);
    expect(r.err).toBe('warn\n');
    const text = r.out.toString();
    expect(text.startsWith('one\n')).toBe(true);
    expect(text.length).toBe(4 + 3_000_000 + 1);
  });

  it('passes the working directory and exactly the environment given', async () => {
    const r = await outcome(launcher.spawn('sh', ['-c', 'pwd; echo "$ONLY_THIS-${HOME:-no home}"'], { cwd: '/tmp', env: { ONLY_THIS: 'yes', PATH: process.env.PATH } }));
    expect(r.out.toString()).toBe('/tmp\nyes-no home\n');
  });

  it('stops a child with the signal asked for', async () => {
    const p = launcher.spawn('sleep', ['30']);
    setTimeout(() => p.kill('SIGTERM'), 100);
    const r = await outcome(p);
    expect(r).toMatchObject({ code: null, signal: 'SIGTERM' });
  });

  it('starts its helper when warmed, and runs the commands that follow from it', async () => {
    const warmed = new Launcher();
    const pid = warmed.warm();
    expect(pid).toEqual(expect.any(Number));
    expect(warmed.warm()).toBe(pid);
    const r = await outcome(warmed.spawn('sh', ['-c', 'echo $PPID']));
    expect(Number(r.out.toString())).toBe(pid);
  });

  it('reports a command that cannot be run as an error, then closes', async () => {
    const r = await outcome(launcher.spawn('/nonexistent/kiln-no-such-command', []));
    expect(r.error).toBe('ENOENT');
  });

  it('runs children side by side', async () => {
    const started = Date.now();
    const rs = await Promise.all(Array.from({ length: 4 }, (_, i) => outcome(launcher.spawn('sh', ['-c', `sleep 0.5; echo ${i}`]))));
    expect(rs.map((r) => r.out.toString())).toEqual(['0\n', '1\n', '2\n', '3\n']);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
