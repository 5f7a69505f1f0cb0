import { Api } from './api';
import { expectEventually } from './expect-eventually';
import { GitFixture, GitRepo } from './git-fixture';
import { githubPushPayload, sendGithubWebhook } from './github';

export interface BuildItem {
  id: string;
  ruleId: string;
  ruleDeleted: boolean;
  status: string;
  ref: string;
  commit: string;
  tags: string[];
  digest: string | null;
  workflowId: string;
  trigger: { kind: string; by?: string; eventId?: string };
  failure: { type: string; message: string; hint: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Source {
  id: string;
  webhookUrl: string;
  webhookSecret: string;
}

/** A GitHub source on the loopback git server, and helpers that push for real and deliver the webhook. */
export class Scenario {
  constructor(
    readonly api: Api,
    readonly git: GitFixture,
    readonly source: Source,
    readonly repo: GitRepo,
  ) {}

  static async create(api: Api, git: GitFixture, fullName: string): Promise<Scenario> {
    const source = await api.ok<Source>('POST', '/api/v1/sources', { provider: 'github', name: `gh-${fullName}`, baseUrl: git.baseUrl, token: 'tok' });
    return new Scenario(api, git, source, git.createRepo(fullName));
  }

  /** Push `ref` (a branch or tag that exists locally) and deliver GitHub's webhook for it; returns the commit. */
  async pushAndDeliver(ref: string): Promise<{ commit: string; eventId: string }> {
    return this.deliver(ref, this.repo.push(ref));
  }

  async deleteAndDeliver(ref: string): Promise<{ commit: string; eventId: string }> {
    return this.deliver(ref, this.repo.deleteRemote(ref));
  }

  /** Deliver the host's webhook for a push that already happened. */
  async deliver(ref: string, push: { before: string; after: string }): Promise<{ commit: string; eventId: string }> {
    const deleted = /^0+$/.test(push.after);
    const head = deleted ? null : this.repo.info(`${ref}^{commit}`);
    const payload = githubPushPayload(this.repo, ref, push, head, `${this.git.baseUrl}/${this.repo.fullName}.git`);
    const sent = await sendGithubWebhook(this.source.webhookUrl, this.source.webhookSecret, 'push', payload);
    if (sent.status !== 202) throw new Error(`webhook answered ${sent.status}: ${JSON.stringify(sent.body)}`);
    return { commit: head?.sha ?? push.after, eventId: String(sent.body.eventId) };
  }

  async builds(ruleId: string): Promise<BuildItem[]> {
    return (await this.api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${ruleId}&limit=200`)).items;
  }

  /** Wait for a build of `commit` by the rule to finish, and return it. */
  async finished(ruleId: string, match: (b: BuildItem) => boolean, timeoutMs = 120_000): Promise<BuildItem> {
    return expectEventually(
      async () => {
        const build = (await this.builds(ruleId)).find(match);
        if (!build) throw new Error(`no matching build of rule ${ruleId} yet`);
        if (!['succeeded', 'failed', 'cancelled'].includes(build.status)) throw new Error(`build ${build.id} is ${build.status}`);
        return build;
      },
      timeoutMs,
      200,
    );
  }

  /**
   * The build a delivered push started for the rule, once it exists and has not ended badly. When it does not come,
   * the error carries what the push's evaluation decided; when it failed, why.
   */
  async pushedBuild(ruleId: string, commit: string, eventId: string, timeoutMs = 120_000): Promise<BuildItem> {
    const build = await expectEventually(
      async () => {
        const found = (await this.builds(ruleId)).find((b) => b.commit === commit && b.trigger.eventId === eventId);
        if (found) return found;
        const event = await this.api.call('GET', `/api/v1/events/${eventId}`);
        throw new Error(`no build of ${commit.slice(0, 7)} by rule ${ruleId} after the push's delivery; its event: ${JSON.stringify(event.body)}`);
      },
      timeoutMs,
      250,
    );
    if (build.status === 'failed' || build.status === 'cancelled') throw new Error(await this.describeBuild(ruleId, build.id));
    return build;
  }

  /** A build's status, failure and last log lines, for a test's failure message. */
  async describeBuild(ruleId: string, buildId: string): Promise<string> {
    const build = (await this.builds(ruleId)).find((b) => b.id === buildId);
    const logs = await this.api.call('GET', `/api/v1/builds/${buildId}/logs?limit=5000`);
    const lines = ((logs.body as { items?: Array<{ text: string }> }).items ?? []).map((l) => l.text);
    return `build ${buildId} is ${build?.status ?? 'gone'}; failure: ${JSON.stringify(build?.failure ?? null)}; last log lines:\n${lines.slice(-30).join('\n')}`;
  }
}
