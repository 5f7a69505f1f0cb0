import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './stack';

export interface FakeRepo {
  fullName: string;
  branches?: Record<string, string>;
  tags?: Record<string, string>;
  private?: boolean;
}

/** GitHub's, GitLab's and Gitee's REST APIs and OAuth endpoints as they document them (tools/fake-host-server.js). */
export class FakeHosts {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(state: { tokens: string[]; oauthApps: Record<string, string>; repos: FakeRepo[]; tokenTtlSeconds?: number }): Promise<FakeHosts> {
    const file = join(mkdtempSync(join(tmpdir(), 'kiln-fake-hosts-')), 'state.json');
    writeFileSync(file, JSON.stringify(state));
    const child = spawn(process.execPath, [join(ROOT, 'tools', 'fake-host-server.js'), '0', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`fake hosts exited with ${code}`)));
      child.stdout?.once('data', (d: Buffer) => {
        const m = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(d.toString());
        if (m) ok(m[1]);
        else fail(new Error(`unexpected output: ${d.toString()}`));
      });
    });
    return new FakeHosts(child, url);
  }

  apiUrl(host: 'github' | 'gitlab' | 'gitee'): string {
    return host === 'github' ? `${this.url}/github` : host === 'gitlab' ? `${this.url}/gitlab/api/v4` : `${this.url}/gitee/api/v5`;
  }

  async hooks(): Promise<Array<{ host: string; repo: string; id: number; body: Record<string, unknown> & { config?: Record<string, string> } }>> {
    return (await fetch(`${this.url}/_fake/hooks`)).json() as never;
  }

  /** `<host>:<grant_type>` of every token request, in order. */
  async grants(): Promise<string[]> {
    return (await fetch(`${this.url}/_fake/grants`)).json() as never;
  }

  async issuedTokens(): Promise<string[]> {
    const t = (await (await fetch(`${this.url}/_fake/tokens`)).json()) as { access: string[]; refresh: string[] };
    return [...t.access, ...t.refresh];
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill();
    await exited;
  }
}
