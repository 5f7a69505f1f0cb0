import { createHmac, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { PARKED_HEADERS, parkedSubject, pushReceivedV1 } from '@kiln/contracts';
import { EventBus, JsonLogger } from '@kiln/platform/standalone';
import { forge, giteePush, githubPush, Host, HostDelivery, HOSTS, pingFor, PushFacts, pushFor } from '@kiln/testing';
import { Api } from './support/api';
import { onStack } from './support/on-stack';
import { expectEventually } from './support/expect-eventually';
import { GitFixture, GitRepo } from './support/git-fixture';
import { BuildItem } from './support/scenario';
import { services, sharedStack, Stack, storedPushes } from './support/stack';

jest.setTimeout(300_000);

interface EventView {
  id: string;
  outcome: string;
  status: number;
  reason: string | null;
  event: Record<string, unknown> | null;
  decisions: Array<{ ruleId: string | null; decision: string; reason: string | null; buildId: string | null }>;
}

async function post(url: string, d: HostDelivery): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: d.headers, body: d.body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** The latest run of a workflow id, as Temporal's own record of it says (not its eventually consistent list). */
async function latestRun(workflowId: string): Promise<{ runId: string; status: string }> {
  const connection = await Connection.connect({ address: services.temporal });
  try {
    const d = await new Client({ connection }).workflow.getHandle(workflowId).describe();
    return { runId: d.runId, status: d.status.name };
  } finally {
    await connection.close();
  }
}

/** Once its workflow has ended (as `status` says): the run a build has. */
const endedRun = (workflowId: string, status: 'COMPLETED' | 'FAILED') =>
  expectEventually(async () => {
    const run = await latestRun(workflowId);
    expect(run.status).toBe(status);
    return run;
  });

/** Pushes main for real, and delivers GitHub's webhook of that push to the source: the answer. */
async function deliverMainPush(source: { webhookUrl: string }, secret: string, r: GitRepo, c: { sha: string; message: string; timestamp: string; authorName: string; authorEmail: string }) {
  const push = r.push('refs/heads/main');
  const commit = { id: c.sha, message: c.message, timestamp: c.timestamp, authorName: c.authorName, authorEmail: c.authorEmail };
  return post(source.webhookUrl, pushFor.github({ repo: r.fullName, ref: 'refs/heads/main', before: push.before, after: push.after, commit, cloneUrl: r.url }, secret));
}

describe('webhooks from GitHub, GitLab, Gitee and CODING', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  onStack(sharedStack, (t) => ({ stack, git, api } = t));

  describe.each(HOSTS)('%s', (host: Host) => {
    const secret = `secret-for-${host}-${run}`;
    let source: { id: string; webhookUrl: string };
    let repo: GitRepo;
    let branchRule: { id: string };
    let tagRule: { id: string };
    const fullName = `acme/${host}-${run}`;

    beforeAll(async () => {
      source = await api.ok('POST', '/api/v1/sources', { provider: host, name: `${host} source`, baseUrl: git.baseUrl, token: 'tok', webhookSecret: secret });
      repo = git.createRepo(fullName);
      const rules = `/api/v1/namespaces/hooks/repositories/${host}/build-rules`;
      branchRule = await api.ok('POST', rules, { sourceId: source.id, repository: fullName, trigger: { type: 'anyBranch' }, tagRule: { prefix: host, parts: ['ref', 'commit'] } });
      tagRule = await api.ok('POST', rules, { sourceId: source.id, repository: fullName, trigger: { type: 'tag' }, tagRule: { prefix: host, parts: ['ref', 'commit'] } });
    });

    /** Push for real, deliver the host's webhook, and return the answer and the ledger entry. */
    async function deliver(ref: string, opts: { deleteRemote?: boolean } = {}) {
      const push = opts.deleteRemote ? repo.deleteRemote(ref) : repo.push(ref);
      const deleted = /^0+$/.test(push.after);
      const head = deleted ? null : repo.info(`${ref}^{commit}`);
      const facts: PushFacts = {
        repo: fullName,
        ref,
        before: push.before,
        after: push.after,
        commit: head && { id: head.sha, message: head.message, timestamp: head.timestamp, authorName: head.authorName, authorEmail: head.authorEmail },
        cloneUrl: `${git.baseUrl}/${fullName}.git`,
      };
      const d = pushFor[host](facts, secret);
      const answer = await post(source.webhookUrl, d);
      expect(answer.status).toBe(202);
      const eventId = String(answer.body.eventId);
      const ledger = await expectEventually(async () => {
        const e = await api.ok<EventView>('GET', `/api/v1/events/${eventId}`);
        expect(e.decisions.length).toBe(2);
        return e;
      });
      return { d, facts, head, eventId, ledger };
    }

    const decisionOf = (ledger: EventView, ruleId: string) => ledger.decisions.find((x) => x.ruleId === ruleId)?.decision;

    it('builds branch and tag pushes by the matching rule only, and records why for each rule', async () => {
      repo.commit({ Dockerfile: 'FROM kiln/busybox:local\nCOPY hello.txt /hello.txt\n', 'hello.txt': `${host} ${run}\n` }, `首次提交 for ${host}: unicode message`);
      const main = await deliver('refs/heads/main');
      expect(main.ledger).toMatchObject({ outcome: 'accepted', status: 202 });
      expect(main.ledger.event).toMatchObject({
        provider: host,
        sourceId: source.id,
        ref: 'refs/heads/main',
        refType: 'branch',
        name: 'main',
        commitSha: main.head?.sha,
        created: true,
        deleted: false,
        repoFullName: fullName,
        headCommit: { id: main.head?.sha, message: `首次提交 for ${host}: unicode message` },
      });
      expect(decisionOf(main.ledger, branchRule.id)).toBe('build-started');
      expect(decisionOf(main.ledger, tagRule.id)).toBe('no-match');

      repo.checkout('feature/x', true);
      repo.commit({ 'hello.txt': `${host} feature ${run}\n` }, 'feature work');
      const feature = await deliver('refs/heads/feature/x');
      expect(feature.ledger.event).toMatchObject({ name: 'feature/x', created: true });

      repo.tag('v1.0.0', 'annotated release');
      const tag = await deliver('refs/tags/v1.0.0');
      expect(tag.ledger.event).toMatchObject({ refType: 'tag', name: 'v1.0.0', commitSha: feature.head?.sha });
      expect(decisionOf(tag.ledger, tagRule.id)).toBe('build-started');
      expect(decisionOf(tag.ledger, branchRule.id)).toBe('no-match');

      const tagGone = await deliver('refs/tags/v1.0.0', { deleteRemote: true });
      const branchGone = await deliver('refs/heads/feature/x', { deleteRemote: true });
      for (const gone of [tagGone, branchGone]) {
        expect(gone.ledger.event).toMatchObject({ deleted: true, commitSha: null, after: '0'.repeat(40) });
        expect(gone.ledger.decisions.map((x) => x.decision)).toEqual(['ref-deleted', 'ref-deleted']);
      }

      // Exactly the builds that should start, and they succeed.
      const builds = async (ruleId: string) =>
        expectEventually(
          async () => {
            const items = (await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${ruleId}`)).items;
            expect(items.every((b) => b.status === 'succeeded')).toBe(true);
            return items.map((b) => `${b.ref}@${b.commit}`).sort();
          },
          120_000,
          250,
        );
      expect(await builds(branchRule.id)).toEqual([`refs/heads/feature/x@${feature.head?.sha}`, `refs/heads/main@${main.head?.sha}`]);
      expect(await builds(tagRule.id)).toEqual([`refs/tags/v1.0.0@${feature.head?.sha}`]);

      // The same delivery again: the same answer, nothing new stored, no second build.
      const before = await storedPushes();
      const again = await post(source.webhookUrl, main.d);
      expect(again).toEqual({ status: 202, body: { eventId: main.eventId } });
      expect(await storedPushes()).toBe(before);
    });

    it('answers pings and test deliveries, and records them', async () => {
      const answer = await post(source.webhookUrl, pingFor[host](secret));
      expect([200, 202]).toContain(answer.status);
      const ledger = await expectEventually(() => api.ok<EventView>('GET', `/api/v1/events/${answer.body.eventId}`));
      expect(ledger.outcome).toBe(host === 'gitlab' ? 'accepted' : 'ping');
    });

    it('refuses a forged delivery with 401, stores no event, and records the refusal', async () => {
      const facts: PushFacts = { repo: fullName, ref: 'refs/heads/main', before: '1'.repeat(40), after: '2'.repeat(40), commit: null, cloneUrl: 'x' };
      const before = await storedPushes();
      const answer = await post(source.webhookUrl, forge(host, pushFor[host](facts, secret)));
      expect(answer.status).toBe(401);
      await expectEventually(async () => {
        const refused = await api.ok<{ items: EventView[] }>('GET', `/api/v1/events?sourceId=${source.id}&outcome=refused`);
        expect(refused.items.length).toBeGreaterThanOrEqual(1);
        expect(refused.items[0]).toMatchObject({ status: 401, reason: expect.any(String), event: null });
      });
      expect(await storedPushes()).toBe(before);
    });
  });

  it('refuses a replayed Gitee token and timestamp carrying another body', async () => {
    const secret = `gitee-replay-${run}`;
    const source = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'gitee', name: 'gitee replay', baseUrl: git.baseUrl, webhookSecret: secret });
    const ts = Date.now();
    const facts: PushFacts = { repo: 'acme/replay', ref: 'refs/heads/main', before: '1'.repeat(40), after: '2'.repeat(40), commit: null, cloneUrl: 'x' };
    const first = giteePush(facts, secret, { signed: true, timestamp: ts });
    expect((await post(source.webhookUrl, first)).status).toBe(202);
    expect((await post(source.webhookUrl, first)).status).toBe(202);
    const replay = giteePush({ ...facts, ref: 'refs/heads/evil' }, secret, { signed: true, timestamp: ts });
    expect(await post(source.webhookUrl, replay)).toMatchObject({ status: 401, body: { message: expect.stringContaining('replayed') } });
    // Another source with the same secret judges its own deliveries: the same token and timestamp are no replay there.
    const other = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'gitee', name: 'gitee replay 2', baseUrl: git.baseUrl, webhookSecret: secret });
    expect((await post(other.webhookUrl, replay)).status).toBe(202);
  });

  it('stores the same delivery id sent to two sources as two events: deduplication is per source', async () => {
    const secret = `two-sources-${run}`;
    const a = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'first', baseUrl: git.baseUrl, webhookSecret: secret });
    const b = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'second', baseUrl: git.baseUrl, webhookSecret: secret });
    const facts: PushFacts = { repo: `acme/two-${run}`, ref: 'refs/heads/main', before: '1'.repeat(40), after: '2'.repeat(40), commit: null, cloneUrl: 'x' };
    const deliveryId = `same-delivery-${run}`;
    const before = await storedPushes();
    const first = await post(a.webhookUrl, githubPush(facts, secret, { deliveryId }));
    const second = await post(b.webhookUrl, githubPush(facts, secret, { deliveryId }));
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(first.body.eventId).not.toBe(second.body.eventId);
    expect(await storedPushes()).toBe(before + 2);
    // A 202 means stored: each event is in the ledger, with its own source.
    for (const [sent, source] of [
      [first, a],
      [second, b],
    ] as const)
      await expectEventually(async () => expect(await api.ok<{ sourceId: string }>('GET', `/api/v1/events/${String(sent.body.eventId)}`)).toMatchObject({ sourceId: source.id }));
    // The same delivery to the same source again is still one event.
    expect((await post(a.webhookUrl, githubPush(facts, secret, { deliveryId }))).body.eventId).toBe(first.body.eventId);
    expect(await storedPushes()).toBe(before + 2);
  });

  it("matches a Gitee push to the rule by the repository's path, whatever its display name", async () => {
    // Gitee's own sample sends full_name "OSCHINA/Gitee"; Chinese repositories send Chinese display names.
    const secret = `gitee-path-${run}`;
    const source = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'gitee', name: 'gitee path', baseUrl: git.baseUrl, webhookSecret: secret });
    const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/gitee/repositories/path-${process.pid}/build-rules`, {
      sourceId: source.id,
      repository: `oschina/gitee-${run}`,
      trigger: { type: 'branch', branch: 'main' },
      autoTrigger: false,
    });
    const facts: PushFacts = { repo: `oschina/gitee-${run}`, ref: 'refs/heads/main', before: '1'.repeat(40), after: '2'.repeat(40), commit: null, cloneUrl: 'x' };
    const sent = await post(source.webhookUrl, giteePush(facts, secret, { signed: true, displayName: `OSCHINA/码云-${run}` }));
    expect(sent.status).toBe(202);
    const ledger = await expectEventually(async () => {
      const e = await api.ok<EventView>('GET', `/api/v1/events/${(sent.body as { eventId: string }).eventId}`);
      expect(e.decisions).toHaveLength(1);
      return e;
    });
    // The rule was found (auto-trigger is off, so it records why nothing was built) rather than "no rules".
    expect(ledger.decisions[0]).toMatchObject({ ruleId: rule.id, decision: 'auto-trigger-off' });
  });

  it('answers 404 for an unknown source, 400 for an unreadable body, 413 above the size limit', async () => {
    const unknown = await post(
      `${stack.webhookUrl}/webhooks/00000000-0000-4000-8000-000000000000`,
      pushFor.github({ repo: 'a/b', ref: 'refs/heads/main', before: '1'.repeat(40), after: '2'.repeat(40), commit: null, cloneUrl: 'x' }, 's'),
    );
    expect(unknown.status).toBe(404);
    const source = await api.ok<{ id: string; webhookUrl: string; webhookSecret: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'limits', baseUrl: git.baseUrl });
    // Signed but unreadable: verified first, then refused with 400, and recorded.
    const body = '{not json';
    const signature = 'sha256=' + createHmac('sha256', source.webhookSecret).update(body).digest('hex');
    const bad = await fetch(source.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-bad', 'x-hub-signature-256': signature },
      body,
    });
    expect(bad.status).toBe(400);
    // Unsigned garbage is refused as unauthenticated before anything reads it.
    const unsigned = await fetch(source.webhookUrl, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-github-event': 'push' }, body });
    expect(unsigned.status).toBe(401);
    // The same with a trailing slash and no content type at all: still this source's delivery, read and refused alike.
    const slash = await fetch(`${source.webhookUrl}/`, { method: 'POST', headers: { 'x-github-event': 'push' }, body: new Uint8Array(Buffer.from(body)) });
    expect(slash.status).toBe(401);
    const nowhere = await fetch(`${stack.webhookUrl}/hooks/${source.id}`, { method: 'POST', body });
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toMatchObject({ status: 404, code: 'NotFound' });
    await expectEventually(async () => {
      const refused = await api.ok<{ items: EventView[] }>('GET', `/api/v1/events?sourceId=${source.id}&outcome=refused`);
      expect(refused.items.map((e) => e.status).sort()).toEqual([400, 401, 401]);
    });
    const notAnId = await api.call<{ fields?: Array<{ field: string }> }>('GET', '/api/v1/events?sourceId=bench');
    expect(notAnId.status).toBe(400);
    expect(notAnId.body.fields?.map((f) => f.field)).toEqual(['sourceId']);
    const huge = await fetch(source.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push' },
      body: JSON.stringify({ pad: 'x'.repeat(26 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
  });

  it('stores a push whose commit message holds U+0000, and one push the ledger cannot take holds back no other', async () => {
    const secret = `nul-${run}`;
    const source = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'nul', baseUrl: git.baseUrl, webhookSecret: secret });
    const sha = (n: number) => n.toString(16).padStart(40, '0');
    const facts = (message: string): PushFacts => ({
      repo: `acme/nul-${run}`,
      ref: 'refs/heads/main',
      before: sha(1),
      after: sha(2),
      commit: { id: sha(2), message, timestamp: '2026-11-27T08:30:15Z', authorName: 'N', authorEmail: 'n@example.com' },
      cloneUrl: 'http://127.0.0.1:1/acme/nul.git',
    });
    const [withNul, plain] = await Promise.all([post(source.webhookUrl, pushFor.github(facts('fix \u0000 in parser'), secret)), post(source.webhookUrl, pushFor.github(facts('plain'), secret))]);
    expect([withNul.status, plain.status]).toEqual([202, 202]);
    await expectEventually(async () => {
      const e = await api.ok<EventView>('GET', `/api/v1/events/${withNul.body.eventId}`);
      // jsonb cannot hold U+0000: the ledger's copy shows U+FFFD (the event builds start from keeps the original).
      expect((e.event?.headCommit as { message: string }).message).toBe('fix \ufffd in parser');
      expect((await api.ok<EventView>('GET', `/api/v1/events/${plain.body.eventId}`)).decisions).toEqual([expect.objectContaining({ decision: 'no-rules' })]);
    });

    // Published in one go with a good one: a message the database refuses though its schema takes it (year 0 is no
    // year in PostgreSQL), and one its schema refuses. The good one is stored; both refused ones are parked, with why,
    // and neither is redelivered.
    const bus = await EventBus.connect(stack.natsAdmin, 'webhooks-e2e', new JsonLogger('e2e', 'error'));
    try {
      const base = {
        provider: 'github' as const,
        sourceId: source.id,
        kind: 'push' as const,
        ref: 'refs/heads/main',
        refType: 'branch' as const,
        name: 'main',
        before: sha(1),
        after: sha(2),
        commitSha: sha(2),
        created: false,
        deleted: false,
        repoFullName: `acme/nul-${run}`,
        cloneUrl: null,
        sshUrl: null,
        defaultBranch: null,
        headCommit: null,
        pusher: null,
      };
      const bad = { ...base, eventId: randomUUID(), deliveryId: randomUUID(), receivedAt: '0000-01-01T00:00:00Z' };
      const invalid = { ...base, eventId: randomUUID(), deliveryId: randomUUID(), receivedAt: 'not a time' };
      const good = { ...base, eventId: randomUUID(), deliveryId: randomUUID(), receivedAt: new Date().toISOString() };
      await Promise.all([
        bus.publish(pushReceivedV1, bad, { msgId: `github:${bad.deliveryId}` }),
        bus.publish(pushReceivedV1, invalid, { msgId: `github:${invalid.deliveryId}` }),
        bus.publish(pushReceivedV1, good, { msgId: `github:${good.deliveryId}` }),
      ]);
      await expectEventually(async () => expect((await api.ok<EventView>('GET', `/api/v1/events/${good.eventId}`)).decisions).toEqual([expect.objectContaining({ decision: 'no-rules' })]));
      for (const refused of [bad, invalid]) {
        const res = await fetch(`${stack.gatewayUrl}/api/v1/events/${refused.eventId}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
        expect(res.status).toBe(404);
      }
      const reasons = await expectEventually(async () => {
        const parked = await bus.nc.jetstream().consumers.get('KILN_PARKED', { filterSubjects: [parkedSubject('rules-service')] });
        const found = new Map<string, string | undefined>();
        for (let m = await parked.next({ expires: 1000 }); m; m = await parked.next({ expires: 1000 }))
          found.set((JSON.parse(new TextDecoder().decode(m.data)) as { eventId?: string }).eventId ?? '', m.headers?.get(PARKED_HEADERS.reason));
        expect(found.get(invalid.eventId)).toBe('fails push.received.v1: receivedAt: Invalid datetime');
        expect(found.get(bad.eventId)).toMatch(/^the database refuses the message's data \(SQLSTATE 22008\): date\/time field value out of range/);
        return found;
      });
      expect(reasons.size).toBeGreaterThanOrEqual(2);
      // Parked is out of the consumer for good: nothing of rules-service's waits for a redelivery.
      const jsm = await bus.nc.jetstreamManager();
      await expectEventually(async () => expect((await jsm.consumers.info('KILN_EVENTS', 'rules-service')).num_ack_pending).toBe(0));
    } finally {
      await bus.close();
    }
  });

  it('records that no rule uses a pushed repository, and evaluates the push by the rule added later on redeliver', async () => {
    const secret = `no-rules-${run}`;
    const source = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'no-rules', baseUrl: git.baseUrl, webhookSecret: secret });
    const r = git.createRepo(`acme/no-rules-${run}`);
    const c = r.commit({ Dockerfile: 'FROM kiln/busybox:local\n' }, 'unused');
    const answer = await deliverMainPush(source, secret, r, c);
    expect(answer.status).toBe(202);
    const noRules = { ruleId: null, decision: 'no-rules', reason: `no build rule uses ${r.fullName} on this source`, buildId: null, workflowId: null };
    await expectEventually(async () => expect((await api.ok<EventView>('GET', `/api/v1/events/${answer.body.eventId}`)).decisions).toEqual([noRules]));
    // A redelivery with still no rule records the same, once.
    expect((await api.ok<EventView>('POST', `/api/v1/events/${answer.body.eventId}/redeliver`)).decisions).toEqual([noRules]);

    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/hooks/repositories/no-rules/build-rules', {
      sourceId: source.id,
      repository: r.fullName,
      trigger: { type: 'branch', branch: 'main' },
      autoTrigger: false,
    });
    const again = await api.ok<EventView>('POST', `/api/v1/events/${answer.body.eventId}/redeliver`);
    expect(again.decisions).toEqual([expect.objectContaining({ ruleId: rule.id, decision: 'auto-trigger-off', buildId: null })]);
    expect((await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`)).items).toHaveLength(0);
  });

  it('evaluates a stored event again on redeliver, after the user fixed the rule', async () => {
    const secret = `redeliver-${run}`;
    const source = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'redeliver', baseUrl: git.baseUrl, webhookSecret: secret });
    const r = git.createRepo(`acme/redeliver-${run}`);
    const rule = await api.ok<{ id: string }>('POST', '/api/v1/namespaces/hooks/repositories/redeliver/build-rules', {
      sourceId: source.id,
      repository: r.fullName,
      trigger: { type: 'branch', branch: 'master' },
    });
    const c = r.commit({ Dockerfile: 'FROM kiln/busybox:local\nCOPY hello.txt /h\n', 'hello.txt': `redeliver ${run}\n` }, 'redeliver');
    const answer = await deliverMainPush(source, secret, r, c);
    const missed = await expectEventually(async () => {
      const e = await api.ok<EventView>('GET', `/api/v1/events/${answer.body.eventId}`);
      expect(e.decisions).toHaveLength(1);
      return e;
    });
    expect(missed.decisions[0]).toMatchObject({ decision: 'no-match', reason: expect.stringContaining('master') });
    await api.ok('PATCH', `/api/v1/build-rules/${rule.id}`, { trigger: { type: 'branch', branch: 'main' } });
    const again = await api.ok<EventView>('POST', `/api/v1/events/${answer.body.eventId}/redeliver`);
    expect(again.decisions).toEqual([expect.objectContaining({ ruleId: rule.id, decision: 'build-started', buildId: expect.any(String) })]);
    await expectEventually(
      async () => {
        const items = (await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`)).items;
        expect(items.map((b) => [b.commit, b.status])).toEqual([[c.sha, 'succeeded']]);
      },
      120_000,
      250,
    );
    // Redelivering once more runs nothing again: the finished build keeps its decision, and its workflow one run.
    const built = again.decisions[0].buildId;
    const once = await api.ok<EventView>('POST', `/api/v1/events/${answer.body.eventId}/redeliver`);
    expect(once.decisions).toEqual([expect.objectContaining({ ruleId: rule.id, decision: 'build-started', buildId: built })]);
    expect((await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`)).items).toHaveLength(1);
    const { workflowId } = await api.ok<BuildItem>('GET', `/api/v1/builds/${built}`);
    const first = await endedRun(workflowId, 'COMPLETED');
    await api.ok('POST', `/api/v1/events/${answer.body.eventId}/redeliver`);
    expect(await latestRun(workflowId)).toEqual(first);
  });

  it('runs a finished build again only when asked: a rebuild is a new build, linked, with the rule as it is now', async () => {
    const secret = `rebuild-${run}`;
    const source = await api.ok<{ id: string; webhookUrl: string }>('POST', '/api/v1/sources', { provider: 'github', name: 'rebuild', baseUrl: git.baseUrl, webhookSecret: secret });
    const r = git.createRepo(`acme/rebuild-${run}`);
    const rules = '/api/v1/namespaces/hooks/repositories/rebuild/build-rules';
    const rule = await api.ok<{ id: string }>('POST', rules, {
      sourceId: source.id,
      repository: r.fullName,
      trigger: { type: 'branch', branch: 'main' },
      dockerfilePath: 'docker/Dockerfile',
      tagRule: { prefix: 'rb', parts: ['ref', 'commit'] },
    });
    const c = r.commit({ Dockerfile: 'FROM kiln/busybox:local\nCOPY hello.txt /h\n', 'hello.txt': `rebuild ${run}\n` }, 'rebuild');
    const answer = await deliverMainPush(source, secret, r, c);
    expect(answer.status).toBe(202);
    // The rule names a Dockerfile the repository does not have: the build fails, saying so.
    const failed = await expectEventually(
      async () => {
        const items = (await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`)).items;
        expect(items.map((b) => b.status)).toEqual(['failed']);
        return items[0];
      },
      120_000,
      250,
    );
    expect(failed.failure?.type).toBe('DockerfileNotFound');

    // Redelivery does not retry it behind the user's back.
    const failedRun = await endedRun(failed.workflowId, 'FAILED');
    const redelivered = await api.ok<EventView>('POST', `/api/v1/events/${answer.body.eventId}/redeliver`);
    expect(redelivered.decisions).toEqual([expect.objectContaining({ decision: 'build-started', buildId: failed.id })]);
    expect(await latestRun(failed.workflowId)).toEqual(failedRun);

    // Fix the cause, then rebuild: the same commit, the rule as it is now, a build of its own.
    await api.ok('PATCH', `/api/v1/build-rules/${rule.id}`, { dockerfilePath: 'Dockerfile' });
    const started = await api.call('POST', `/api/v1/builds/${failed.id}/rebuild`);
    expect(started.status).toBe(202);
    const again = started.body as { buildId: string; workflowId: string; ref: string; commit: string; rebuildOf: string };
    expect(again).toMatchObject({ ref: 'refs/heads/main', commit: c.sha, rebuildOf: failed.id });
    expect(again.buildId).not.toBe(failed.id);
    expect(again.workflowId).not.toBe(failed.workflowId);
    const rebuilt = await expectEventually(
      async () => {
        const b = await api.ok<BuildItem & { rebuildOf: string | null }>('GET', `/api/v1/builds/${again.buildId}`);
        expect(b.status).toBe('succeeded');
        return b;
      },
      120_000,
      250,
    );
    expect(rebuilt).toMatchObject({ commit: c.sha, ref: 'refs/heads/main', rebuildOf: failed.id, trigger: { kind: 'rebuild', rebuildOf: failed.id, by: expect.any(String) } });
    expect(rebuilt.tags).toEqual([expect.stringMatching(new RegExp(`/hooks/rebuild:rb-main-${c.sha.slice(0, 7)}$`))]);

    // Linked both ways, and found by the list's filters; the failed build stays as it was.
    const original = await api.ok<BuildItem & { rebuilds: string[] }>('GET', `/api/v1/builds/${failed.id}`);
    expect(original).toMatchObject({ status: 'failed', rebuilds: [again.buildId], tags: [] });
    expect((await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?rebuildOf=${failed.id}`)).items.map((b) => b.id)).toEqual([again.buildId]);
    expect((await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}&triggerKind=rebuild`)).items.map((b) => b.id)).toEqual([again.buildId]);
    expect((await api.call('GET', '/api/v1/builds?rebuildOf=nope')).status).toBe(400);
    expect(await latestRun(failed.workflowId)).toEqual(failedRun);
    await endedRun(again.workflowId, 'COMPLETED');

    // What cannot be rebuilt says why, and starts nothing.
    expect((await api.call('POST', '/api/v1/builds/00000000-0000-4000-8000-000000000000/rebuild')).status).toBe(404);
    await api.ok('DELETE', `/api/v1/build-rules/${rule.id}`);
    await expectEventually(async () => {
      const refused = await api.call('POST', `/api/v1/builds/${failed.id}/rebuild`);
      expect(refused.status).toBe(409);
      expect(JSON.stringify(refused.body)).toContain('rule was deleted');
    });
    expect((await api.ok<{ items: BuildItem[] }>('GET', `/api/v1/builds?ruleId=${rule.id}`)).items).toHaveLength(2);
  });
});
