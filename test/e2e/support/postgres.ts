import { execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@kiln/platform/standalone';
import { Client } from 'pg';

/** The machine's PostgreSQL release (Debian's layout: /usr/lib/postgresql/<version>/bin). */
const BIN = join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().pop() ?? '', 'bin');

/** A PostgreSQL server of a test's own, which it may stop and start without touching the machine's (shared) one. */
export interface PostgresServer {
  port: number;
  /** The superuser's URL of one of its databases. */
  adminUrl(database?: string): string;
  /** A fast shutdown (clients are disconnected); the data stays. */
  stop(): void;
  start(): void;
  /** Stops it and removes its data. */
  destroy(): void;
}

/**
 * initdb into a temporary folder and start it on a free loopback port, with the role `kiln` (the apps' login) made.
 * It trusts every local login: it holds only one test's throw-away data and listens on loopback only.
 */
export async function startPostgres(kilnPassword: string): Promise<PostgresServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-pg-'));
  const data = join(dir, 'data');
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
  // PostgreSQL refuses to run as root: its tools run as the postgres user.
  const asPostgres = (tool: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, tool), ...args], { stdio: 'pipe' });
  asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  appendFileSync(data + '/postgresql.conf', `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nfsync = off\n`);
  let running = false;
  const server: PostgresServer = {
    port,
    adminUrl: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start: () => {
      asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', 'start']);
      running = true;
    },
    stop: () => {
      asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    destroy: () => {
      if (running) server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    server.start();
    const pg = new Client({ connectionString: server.adminUrl() });
    await pg.connect();
    try {
      await pg.query(`CREATE ROLE kiln LOGIN PASSWORD '${kilnPassword.replace(/'/g, "''")}'`);
    } finally {
      await pg.end();
    }
    return server;
  } catch (err) {
    server.destroy();
    throw err;
  }
}
