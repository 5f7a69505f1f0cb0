import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { Api } from './support/api';
import { expectEventually } from './support/expect-eventually';
import { GitFixture } from './support/git-fixture';
import { Scenario } from './support/scenario';
import { ROOT, sharedStack, Stack } from './support/stack';

jest.setTimeout(300_000);

/** Screenshots of the console's main pages, for the record (`dist/console-screenshots`). */
const SHOTS = join(ROOT, 'dist', 'console-screenshots');
/** Form controls on the page without an accessible name. */
const UNLABELLED_CONTROLS = `[...document.querySelectorAll('input, select, textarea, button')].filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim()))).map((el) => el.outerHTML)`;
const dockerfile = (extra = '') => `FROM kiln/busybox:local\nCOPY hello.txt /hello.txt\n${extra}CMD ["cat", "/hello.txt"]\n`;

describe('the web console, in a real browser against the real stack', () => {
  let stack: Stack;
  let git: GitFixture;
  let api: Api;
  let browser: Browser;
  let page: Page;
  const run = `${process.pid}-${Date.now()}`;
  const ns = 'web';
  const repoName = `console-${Date.now().toString(36)}`;

  beforeAll(async () => {
    stack = sharedStack();
    git = await GitFixture.start();
    api = new Api(stack.gatewayUrl, stack.adminToken);
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (d) => void d.accept());
  });

  afterAll(async () => {
    await browser?.close();
    await git?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const signIn = async (token: string) => {
    await page.goto(stack.gatewayUrl);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  };

  it('connects a source, creates a rule with a live tag preview, and follows a pushed build live until it succeeds', async () => {
    await page.goto(stack.gatewayUrl);
    await page.getByLabel('API token').fill('kiln_not_a_token_at_all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    await signIn(stack.adminToken);

    // Connect a GitHub source whose clone URLs point at the loopback git server.
    await page.getByRole('link', { name: 'Code sources' }).click();
    await page.getByLabel('Host', { exact: true }).selectOption('github');
    await page.getByLabel('Name', { exact: true }).fill(`gh-console-${run}`);
    await page.getByLabel(/Base URL/).fill(git.baseUrl);
    await page.getByLabel('Token', { exact: true }).fill('tok');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    const secret = (await page.getByTestId('webhook-secret').textContent()) ?? '';
    const webhookUrl = (await page.getByRole('status').locator('code').first().textContent()) ?? '';
    expect(secret.length).toBeGreaterThanOrEqual(16);
    expect(webhookUrl).toMatch(/\/webhooks\/[0-9a-f-]{36}$/);
    await page.getByRole('cell', { name: `gh-console-${run}`, exact: true }).waitFor();
    await shot('sources');
    const s = new Scenario(api, git, { id: webhookUrl.split('/').pop() as string, webhookUrl, webhookSecret: secret }, git.createRepo(`acme/console-${run}`));
    // A build that prints for a few seconds, so the page is reloaded while it runs.
    s.repo.commit({ Dockerfile: dockerfile('RUN for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 0.5; done\n'), 'hello.txt': `hello from the console ${run}\n` }, 'first');

    // The rule dialog: repository, trigger, tag rule, and the exact tag for a ref, from the server's own renderer.
    await page.goto(`${stack.gatewayUrl}/#/repositories/${ns}/${repoName}`);
    await page.getByRole('button', { name: 'New build rule' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Code source', { exact: true }).selectOption({ label: `gh-console-${run} (github)` });
    await dialog.getByLabel('Repository', { exact: true }).fill(s.repo.fullName);
    await dialog.getByLabel('Branch', { exact: true }).fill('main');
    await dialog.getByLabel('Prefix', { exact: true }).fill('web');
    await dialog.getByRole('button', { name: 'remove time' }).click();
    await dialog.getByLabel('preview ref').fill('refs/heads/main');
    await ui(dialog.getByTestId('tag-preview')).toHaveText(new RegExp(`^fires: .*/${ns}/${repoName}:web-main-0123456$`));
    await dialog.getByLabel('preview ref').fill('refs/heads/develop');
    await ui(dialog.getByTestId('tag-preview')).toHaveText(/^does not fire: /);
    await dialog.getByLabel('Ref matches a regular expression').check();
    await dialog.getByLabel(/Pattern/).fill('^refs/heads/(main');
    await ui(dialog.getByRole('button', { name: 'Create rule' })).toBeDisabled();
    await dialog.getByLabel('Push to a branch').check();
    await dialog.getByText('Build options').click();
    // Every control of the dialog has an accessible name (a label or aria-label).
    expect(await page.evaluate(UNLABELLED_CONTROLS)).toEqual([]);
    await shot('rule-dialog');
    await dialog.getByRole('button', { name: 'Create rule' }).click();
    await page.getByRole('listitem', { name: /^rule / }).waitFor();
    await shot('repository');

    // A real push and its webhook: the build appears and its log streams live until it succeeds.
    const rule = (await api.ok<{ items: Array<{ id: string; sourceId: string; repository: string }> }>('GET', `/api/v1/namespaces/${ns}/repositories/${repoName}/build-rules`)).items[0];
    // The source picked in the dialog, not the first of the list (the dialog once replaced a quick pick with it).
    expect({ sourceId: rule.sourceId, repository: rule.repository }).toEqual({ sourceId: s.source.id, repository: s.repo.fullName });
    const { commit, eventId } = await s.pushAndDeliver('refs/heads/main');
    await page.getByRole('link', { name: 'Builds of this rule' }).click();
    // The push's build appears once rules-service has evaluated it and started it (allow for a loaded machine). When
    // it does not, or ends badly, the failure says what the push's evaluation decided and why the build failed.
    const pushed = await s.pushedBuild(rule.id, commit, eventId);
    await page.getByRole('link', { name: new RegExp(`^build ${pushed.id} (queued|running|succeeded)$`) }).click({ timeout: 30_000 });
    const log = page.getByTestId('log');
    await page
      .getByText('following…')
      .or(page.getByText(/^\d+ lines$/))
      .first()
      .waitFor();
    // Lines arrive while the build runs; a reload mid-build picks the log up again whole.
    await log.getByText('tick-2').first().waitFor({ timeout: 120_000 });
    expect(await page.locator('h1 .status-running').count()).toBe(1);
    await page.reload();
    await page
      .locator('h1 .status-succeeded')
      .waitFor({ timeout: 120_000 })
      .catch(async (err) => {
        throw new Error(`${String(err)}\n${await s.describeBuild(rule.id, pushed.id)}`);
      });
    await page.getByText(/^\d+ lines$/).waitFor({ timeout: 30_000 });
    const buildId = page.url().split('/').pop() as string;
    const stored = await api.ok<{ items: Array<{ text: string }> }>('GET', `/api/v1/builds/${buildId}/logs?limit=5000`);
    // Exactly the stored lines, in order: no gap and no repeat across the reload.
    expect(await log.locator('.line').allTextContents()).toEqual(stored.items.map((l) => l.text));
    expect(stored.items.filter((l) => /^tick-\d$/.test(l.text)).map((l) => l.text)).toEqual(['tick-1', 'tick-2', 'tick-3', 'tick-4', 'tick-5', 'tick-6', 'tick-7', 'tick-8']);
    await ui(page.getByRole('textbox', { name: 'docker pull command' })).toHaveValue(new RegExp(`^docker pull .*/${ns}/${repoName}:web-main-${commit.slice(0, 7)}$`));
    expect(await log.locator('.line').count()).toBeGreaterThan(3);
    await shot('build-succeeded');
    // At phone width the page reflows: nothing wider than the screen but the log and tables, which scroll inside.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('build-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    // A reload mid-build or after: the whole log once, no gaps, no repeats.
    const before = await log.locator('.line').allTextContents();
    await page.reload();
    await page.getByText(/^\d+ lines$/).waitFor({ timeout: 60_000 });
    expect(await log.locator('.line').allTextContents()).toEqual(before);
    expect(rule.id).toBeTruthy();
  });

  it('shows a failed build with its hint, skips pushes while auto-trigger is off, builds now, and deletes a build and a rule', async () => {
    const s = await Scenario.create(api, git, `acme/console-off-${run}`);
    const rule = await api.ok<{ id: string; name: string }>('POST', `/api/v1/namespaces/${ns}/repositories/${repoName}-b/build-rules`, {
      sourceId: s.source.id,
      repository: s.repo.fullName,
      trigger: { type: 'branch', branch: 'main' },
    });
    s.repo.commit({ Dockerfile: dockerfile('RUN echo failing on purpose && exit 3\n'), 'hello.txt': 'x\n' }, 'broken');
    await s.pushAndDeliver('refs/heads/main');
    const failed = await s.finished(rule.id, () => true);
    expect(failed.status).toBe('failed');
    await page.goto(`${stack.gatewayUrl}/#/builds/${failed.id}`);
    const failure = page.getByRole('alert').filter({ hasText: 'What to do' });
    await failure.waitFor();
    await ui(failure).toContainText(failed.failure?.hint ?? 'missing hint');
    await shot('build-failed');

    // Auto-trigger off: the switch takes effect at once; a push builds nothing; build now still works.
    await page.goto(`${stack.gatewayUrl}/#/repositories/${ns}/${repoName}-b`);
    const switchControl = page.getByRole('switch', { name: `auto-trigger of ${rule.name}` });
    await switchControl.click();
    await ui(page.getByText('Auto-trigger off')).toBeVisible();
    s.repo.commit({ Dockerfile: dockerfile(), 'hello.txt': 'fixed\n' }, 'fixed');
    const { eventId } = await s.pushAndDeliver('refs/heads/main');
    await expectEventually(async () => {
      const event = await api.ok<{ decisions: Array<{ decision: string }> }>('GET', `/api/v1/events/${eventId}`);
      expect(event.decisions.map((d) => d.decision)).toEqual(['auto-trigger-off']);
    });
    // The webhook events page shows the push and why it built nothing.
    await page.goto(`${stack.gatewayUrl}/#/events`);
    await page.getByRole('row').filter({ hasText: s.repo.fullName }).filter({ hasText: 'auto-trigger-off' }).first().waitFor();
    await page.goto(`${stack.gatewayUrl}/#/repositories/${ns}/${repoName}-b`);
    expect(await s.builds(rule.id)).toHaveLength(1);
    await page.getByLabel('branch to build').fill('main');
    await page.getByRole('button', { name: 'Build now' }).click();
    await page.locator('h1 .status-succeeded').waitFor({ timeout: 120_000 });
    expect(await s.builds(rule.id)).toHaveLength(2);

    // Delete the failed build, then the rule (its builds stay readable).
    await page.goto(`${stack.gatewayUrl}/#/builds/${failed.id}`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await expectEventually(async () => expect((await api.call('GET', `/api/v1/builds/${failed.id}`)).status).toBe(404));
    await page.goto(`${stack.gatewayUrl}/#/repositories/${ns}/${repoName}-b`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('This repository has no build rules.').waitFor();
    expect((await api.call('GET', `/api/v1/build-rules/${rule.id}`)).status).toBe(404);
    await page.goto(`${stack.gatewayUrl}/#/builds`);
    await page.getByRole('table').waitFor();
    await shot('builds');
    await page.goto(`${stack.gatewayUrl}/#/events`);
    await page.getByRole('heading', { name: 'Webhook events' }).waitFor();
    await shot('events');
  });

  it('gives a read-only token no edit controls, and refuses a change it tries anyway with the reason', async () => {
    const reader = await api.ok<{ token: string }>('POST', '/api/v1/tokens', { name: `console reader ${run}`, role: 'read', namespaces: [ns] });
    await page.evaluate('sessionStorage.clear()');
    await signIn(reader.token);
    await ui(page.getByText('read-only')).toBeVisible();
    const s = await Scenario.create(api, git, `acme/console-read-${run}`);
    await api.ok('POST', `/api/v1/namespaces/${ns}/repositories/${repoName}-c/build-rules`, { sourceId: s.source.id, repository: s.repo.fullName, trigger: { type: 'tag' } });
    await page.goto(`${stack.gatewayUrl}/#/repositories/${ns}/${repoName}-c`);
    await page.getByRole('listitem', { name: /^rule / }).waitFor();
    await ui(page.getByRole('button', { name: 'New build rule' })).toHaveCount(0);
    await ui(page.getByRole('button', { name: 'Build now' })).toHaveCount(0);
    await ui(page.getByRole('switch')).toBeDisabled();
    await page.goto(`${stack.gatewayUrl}/#/sources`);
    await ui(page.getByRole('button', { name: 'Connect' })).toHaveCount(0);
    await shot('read-only');
    // The API itself refuses, whatever a client shows: the console says why.
    const refused = await page.evaluate(async (token) => {
      const res = await fetch('/api/v1/tokens', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
      return { status: res.status, body: await res.json() };
    }, reader.token);
    expect(refused).toMatchObject({ status: 403, body: { message: expect.stringContaining('role is read') } });
  });
});

/** Playwright's web-first assertions without @playwright/test: poll the element until the condition holds (10 s). */
function ui(locator: Locator) {
  const poll = (f: () => Promise<void>) => expectEventually(f, 10_000, 100);
  return {
    toHaveText: (re: RegExp) => poll(async () => expect(await locator.textContent()).toMatch(re)),
    toContainText: (text: string) => poll(async () => expect(await locator.textContent()).toContain(text)),
    toHaveValue: (re: RegExp) => poll(async () => expect(await locator.inputValue()).toMatch(re)),
    toBeVisible: () => poll(async () => expect(await locator.first().isVisible()).toBe(true)),
    toBeDisabled: () => poll(async () => expect(await locator.first().isDisabled()).toBe(true)),
    toHaveCount: (n: number) => poll(async () => expect(await locator.count()).toBe(n)),
  };
}
