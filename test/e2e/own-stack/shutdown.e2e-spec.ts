import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { buildLogSubject, buildLogV1, type BuildLogV1 } from '@kiln/contracts';
import { EventBus, JsonLogger } from '@kiln/platform/standalone';
import { Api } from '../support/api';
import { onStack } from '../support/on-stack';
import { expectEventually } from '../support/expect-eventually';
import { GitFixture } from '../support/git-fixture';
import { githubPushPayload, sendGithubWebhook } from '../support/github';
import { registryTags } from '../support/registry';
import { BuildItem, Scenario } from '../support/scenario';
import { Stack, startStack, storedPushes } from '../support/stack';

jest.setTimeout(240_000);

/**
 * SIGTERM under load: an app that is told to stop finishes what it took (answers in-flight requests, acknowledges
 * what it stored) and takes nothing more; what it did not take is delivered again after it restarts, and stored once.
 */
describe('graceful shutdown under load', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  const run = `${process.pid}-${Date.now()}`;

  onStack(
    // Pushes sent to a stopping rules-service come again after its ack wait: 10 s here, not the default minute.
    () => startStack(20180, { appEnv: { 'rules-service': { KILN_PUSH_ACK_WAIT_SECONDS: '10' } } }),
    (t) => ({ stack, git, api } = t),
  );
  // Each test stops an app and starts it again; one that fails in between leaves the app down for the next tests.
  afterEach(() => stack.startStopped());

  it('webhook-ingest: every delivery answered 202 is stored, and the rest, sent again as a host does, are stored once', async () => {
    const s = await Scenario.create(api, git, `acme/sigterm-${run}`);
    const head = s.repo.commit({ 'a.txt': run }, 'one commit for every delivery');
    const push = s.repo.push('refs/heads/main');
    const payload = githubPushPayload(s.repo, 'refs/heads/main', push, s.repo.info('refs/heads/main^{commit}'), `${git.baseUrl}/${s.repo.fullName}.git`);
    expect(head.sha).toBe(push.after);
    const ids = Array.from({ length: 240 }, () => randomUUID());
    const answered = new Map<string, number>();
    const before = await storedPushes(stack.natsAdmin);
    const send = async (id: string) => {
      try {
        answered.set(id, (await sendGithubWebhook(s.source.webhookUrl, s.source.webhookSecret, 'push', payload, { deliveryId: id })).status);
      } catch {
        answered.set(id, 0); // the connection was refused or cut: the host saw no answer
      }
    };
    // Eight deliveries in flight at a time; SIGTERM lands in the middle of them.
    let next = 0;
    const senders = Array.from({ length: 8 }, async () => {
      while (next < ids.length) await send(ids[next++]);
    });
    await expectEventually(async () => expect(answered.size).toBeGreaterThanOrEqual(80), 60_000, 20);
    const stopped = stack.stopApp('webhook-ingest', 'SIGTERM');
    await Promise.all(senders);
    await stopped;
    const accepted = ids.filter((id) => answered.get(id) === 202);
    const unanswered = ids.filter((id) => answered.get(id) !== 202);
    expect(accepted.length).toBeGreaterThanOrEqual(80);
    expect(unanswered.length).toBeGreaterThan(0);
    // No answer but 202 or no answer at all: a stopping app never answered with an error it caused itself.
    expect([...new Set(ids.map((id) => answered.get(id)))].sort()).toEqual([0, 202]);
    // Everything it accepted was stored before it stopped.
    expect((await storedPushes(stack.natsAdmin)) - before).toBe(accepted.length);

    await stack.startApp('webhook-ingest');
    // The host delivers again what got no answer, and, being unsure, some of what did: each is stored once.
    for (const id of [...unanswered, ...accepted.slice(0, 10)]) {
      const again = await sendGithubWebhook(s.source.webhookUrl, s.source.webhookSecret, 'push', payload, { deliveryId: id });
      expect(again.status).toBe(202);
    }
    expect((await storedPushes(stack.natsAdmin)) - before).toBe(ids.length);
  });

  it('log-service: lines published while it stops are all stored once after it restarts', async () => {
    const bus = await EventBus.connect(stack.natsAdmin, 'shutdown-spec', new JsonLogger('test', 'error'));
    const pg = new Client({ connectionString: stack.databaseAdminUrl });
    await pg.connect();
    try {
      const buildId = randomUUID();
      const chunks = 200;
      const perChunk = 25;
      const publish = async (i: number) => {
        const chunk: BuildLogV1 = {
          buildId,
          step: 'build',
          attempt: 1,
          lines: Array.from({ length: perChunk }, (_, j) => ({ seq: i * perChunk + j, time: new Date().toISOString(), stream: 'stdout' as const, text: `line ${i * perChunk + j}` })),
        };
        await bus.publish(buildLogV1, chunk, { subject: buildLogSubject(buildId), msgId: `shutdown-${buildId}-${i}` });
      };
      const count = async () =>
        (await pg.query('SELECT count(*)::int AS n, count(DISTINCT seq)::int AS d FROM logs.build_log_lines WHERE build_id = $1', [buildId])).rows[0] as { n: number; d: number };
      for (let i = 0; i < chunks / 2; i++) await publish(i);
      // SIGTERM while log-service is writing the first half; a quarter arrives while it stops (it may or may not
      // take them before it exits), and the last quarter once it is down.
      const stopped = stack.stopApp('log-service', 'SIGTERM');
      for (let i = chunks / 2; i < (chunks * 3) / 4; i++) await publish(i);
      await stopped;
      for (let i = (chunks * 3) / 4; i < chunks; i++) await publish(i);
      const whileDown = await count();
      expect(whileDown.n).toBe(whileDown.d);
      expect(whileDown.n).toBeLessThanOrEqual((chunks * 3 * perChunk) / 4);
      await stack.startApp('log-service');
      await expectEventually(async () => expect(await count()).toEqual({ n: chunks * perChunk, d: chunks * perChunk }), 60_000, 200);
    } finally {
      await pg.end();
      await bus.close();
    }
  });

  it('rules-service: every push is decided exactly once across a SIGTERM while it evaluates them', async () => {
    const s = await Scenario.create(api, git, `acme/sigterm-rules-${run}`);
    s.repo.commit({ 'a.txt': run }, 'one commit for every delivery');
    const push = s.repo.push('refs/heads/main');
    await api.ok('POST', `/api/v1/namespaces/sigterm/repositories/rules-${process.pid}/build-rules`, {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
      autoTrigger: false,
    });
    const payload = githubPushPayload(s.repo, 'refs/heads/main', push, s.repo.info('refs/heads/main^{commit}'), `${git.baseUrl}/${s.repo.fullName}.git`);
    const pg = new Client({ connectionString: stack.databaseAdminUrl });
    await pg.connect();
    try {
      const decided = async () =>
        (
          await pg.query(
            `SELECT count(*)::int AS decisions, count(DISTINCT d.event_id)::int AS events FROM rules.event_decisions d JOIN rules.push_events e USING (event_id) WHERE e.repo_full_name = $1 AND d.decision = 'auto-trigger-off'`,
            [s.repo.fullName],
          )
        ).rows[0] as { decisions: number; events: number };
      const total = 150;
      const afterStop = 10;
      let sent = 0;
      const send = async () => expect((await sendGithubWebhook(s.source.webhookUrl, s.source.webhookSecret, 'push', payload)).status).toBe(202);
      const senders = Array.from({ length: 6 }, async () => {
        while (sent < total - afterStop) {
          sent++;
          await send();
        }
      });
      await expectEventually(async () => expect((await decided()).events).toBeGreaterThanOrEqual(20), 60_000, 20);
      // SIGTERM while pushes keep arriving: what it took is decided and acknowledged, the rest waits in JetStream
      // (the last few are sent once it is down, so some always wait, however fast it drained before stopping).
      await stack.stopApp('rules-service', 'SIGTERM');
      await Promise.all(senders);
      for (let i = 0; i < afterStop; i++) await send();
      const whileDown = await decided();
      expect(whileDown.decisions).toBe(whileDown.events);
      expect(whileDown.events).toBeLessThanOrEqual(total - afterStop);
      await stack.startApp('rules-service');
      // Pushes JetStream sent to the stopped consumer's pull requests come again after its ack wait (10 s here).
      await expectEventually(async () => expect(await decided()).toEqual({ decisions: total, events: total }), 90_000, 250);
    } finally {
      await pg.end();
    }
  });

  it('gateway: requests in flight at SIGTERM are answered; later ones find no server, none gets an error', async () => {
    const statuses: number[] = [];
    let stopping = false;
    const senders = Array.from({ length: 8 }, async () => {
      while (!stopping || statuses.length < 400) {
        try {
          const res = await fetch(`${stack.gatewayUrl}/api/v1/build-rules?limit=50`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
          await res.arrayBuffer();
          statuses.push(res.status);
        } catch {
          statuses.push(0); // refused or cut before an answer: a client retries
          if (stopping) return;
        }
      }
    });
    await expectEventually(async () => expect(statuses.length).toBeGreaterThanOrEqual(100), 30_000, 20);
    stopping = true;
    await stack.stopApp('gateway', 'SIGTERM');
    await Promise.all(senders);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(100);
    expect([...new Set(statuses)].sort()).toEqual([0, 200]);
    await stack.startApp('gateway');
    expect((await api.call('GET', '/api/v1/build-rules?limit=1')).status).toBe(200);
  });

  it('build-orchestrator: a step running at SIGTERM finishes before the worker stops; after a restart the build ends, tagged once', async () => {
    const s = await Scenario.create(api, git, `acme/sigterm-build-${run}`);
    s.repo.commit({ Dockerfile: `FROM kiln/busybox:local\nRUN echo "step-start ${run}" && sleep 4 && echo "step-end ${run}"\n` }, 'a slow step');
    s.repo.push('refs/heads/main');
    const rule = await api.ok<{ id: string }>('POST', `/api/v1/namespaces/sigterm/repositories/build-${process.pid}/build-rules`, {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    const { buildId } = await api.ok<{ buildId: string }>('POST', `/api/v1/build-rules/${rule.id}/builds`, { branch: 'main' });
    const buildLog = async () => (await api.ok<{ items: Array<{ text: string }> }>('GET', `/api/v1/builds/${buildId}/logs?step=build&limit=1000`)).items.map((l) => l.text);
    await expectEventually(async () => expect(await buildLog()).toContain(`step-start ${run}`), 60_000, 100);
    const stopAsked = Date.now();
    await stack.stopApp('build-orchestrator', 'SIGTERM');
    // It waited for the step (about 4 s), well within its grace, and left without being killed.
    expect(Date.now() - stopAsked).toBeLessThan(14_000);
    expect(await buildLog()).toContain(`step-end ${run}`);
    await stack.startApp('build-orchestrator');
    const b = await expectEventually(
      async () => {
        const d = await api.ok<BuildItem & { steps: Array<{ name: string; status: string; attempt: number }> }>('GET', `/api/v1/builds/${buildId}`);
        expect(d.status).toBe('succeeded');
        return d;
      },
      120_000,
      250,
    );
    // The step was not run again: its one attempt finished while the worker stopped.
    expect(b.steps.filter((x) => x.name === 'build').map((x) => `${x.attempt}:${x.status}`)).toEqual(['1:succeeded']);
    expect(await registryTags(`sigterm/build-${process.pid}`)).toEqual([b.tags[0].split(':').pop()]);
  });
});
