import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { buildConsole } from '../../src/console/build.js';
import { CONSOLE_CSP } from '../../src/http/routes/console.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { recordSensitive } from '../helpers/leaks.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = fileURLToPath(new URL('../../test-output/console/', import.meta.url));
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const XSS_NAME = '<img src=x onerror=alert(1)>';

function userHash(secret: string, userId: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(userId, 'utf8').digest('hex');
}

// Page-side code is passed as strings: this project's type-check has Node's globals, not the DOM's.

/**
 * Everything that went wrong in a page: console errors, uncaught exceptions, failed requests, HTTP errors and
 * alert() calls. A test names the HTTP errors it provokes on purpose; anything else fails it.
 */
class PageWatch {
  private readonly events: string[] = [];
  private readonly httpErrors: Array<{ status: number; path: string }> = [];
  private readonly consoleErrors: string[] = [];
  private readonly expected: Array<{ status: number; path: string }> = [];
  readonly urls: string[] = [];

  constructor(page: Page) {
    page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => this.events.push(`uncaught exception: ${e.message}`));
    page.on('requestfailed', (r) => this.events.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`));
    page.on('request', (r) => this.urls.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400) this.httpErrors.push({ status: r.status(), path: new URL(r.url()).pathname });
    });
    page.on('dialog', (d) => {
      this.events.push(`a script opened a ${d.type()} dialog: ${d.message()}`);
      void d.dismiss();
    });
  }

  expect(status: number, path: string): void {
    this.expected.push({ status, path });
  }

  problems(): string[] {
    const out = [...this.events];
    const allowance = [...this.expected];
    const allowedStatuses: number[] = [];
    for (const e of this.httpErrors) {
      const i = allowance.findIndex((a) => a.status === e.status && a.path === e.path);
      if (i === -1) out.push(`HTTP ${e.status} for ${e.path}`);
      else {
        allowance.splice(i, 1);
        allowedStatuses.push(e.status);
      }
    }
    for (const a of allowance) out.push(`expected HTTP ${a.status} for ${a.path}, never seen`);
    for (const text of this.consoleErrors) {
      // Chromium reports every 4xx fetch as a console error; those the test provoked on purpose are not problems.
      const status = Number(/the server responded with a status of (\d+)/.exec(text)?.[1]);
      const i = allowedStatuses.indexOf(status);
      if (i === -1) out.push(`console error: ${text}`);
      else allowedStatuses.splice(i, 1);
    }
    return out;
  }

  assertClean(): void {
    assert.deepEqual(this.problems(), []);
  }
}

describe('web console in Chromium', { timeout: 180_000 }, () => {
  let app: TestApp;
  let browser: Browser;
  let consoleDir: string;
  let desktop: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let firstSecret = '';
  let secondSecret = '';

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not at ${CHROMIUM}: install it with apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`,
      );
    }
    consoleDir = mkdtempSync(join(tmpdir(), 'secure-mode-console-'));
    await buildConsole(consoleDir);
    mkdirSync(SHOTS, { recursive: true });
    app = await startTestApp({ env: { SECURE_MODE_CONSOLE_DIR: consoleDir } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    desktop = await newContext(DESKTOP);
    page = await desktop.newPage();
    watch = new PageWatch(page);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  async function newContext(viewport: { width: number; height: number }): Promise<BrowserContext> {
    const context = await browser.newContext({
      viewport,
      locale: 'en-GB',
      timezoneId: 'UTC',
      ...(viewport.width < 500 ? { isMobile: true, hasTouch: true } : {}),
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    // Any CSP violation becomes a console error, which fails the test.
    await context.addInitScript({
      content:
        "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
    });
    context.setDefaultTimeout(15_000);
    return context;
  }

  async function shot(p: Page, name: string): Promise<void> {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  async function signIn(p: Page, token: string): Promise<void> {
    await p.getByLabel('Access token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Identity verification secrets' }).waitFor();
  }

  function secretRow(p: Page, name: string): Locator {
    const exact = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    return p.locator('tr[data-secret-id]').filter({ has: p.locator('.secret-name', { hasText: exact }) });
  }

  async function verify(secret: string, userId: string) {
    return api(app, 'POST', '/identity_verification/verify', {
      token: null,
      body: { app_id: app.workspace.appId, platform: 'web', user_id: userId, user_hash: userHash(secret, userId) },
    });
  }

  async function hasFocus(locator: Locator): Promise<boolean> {
    return locator.evaluate((el) => el === el.ownerDocument.activeElement);
  }

  it('serves the console with a strict CSP and security headers', async () => {
    for (const path of ['/console', '/console/console.js', '/console/console.css']) {
      const res = await fetch(`${app.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
      await res.arrayBuffer();
    }
    assert.match(CONSOLE_CSP, /default-src 'none'/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval/);
  });

  it('signs in with a pasted token, refusing a bad one with a readable message', async () => {
    const response = await page.goto(`${app.url}/console`);
    assert.equal(response?.headers()['content-security-policy'], CONSOLE_CSP);
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    assert.ok(await hasFocus(page.getByLabel('Access token')));
    await shot(page, 'signin-desktop');

    watch.expect(401, '/secure_mode_secrets');
    await page.getByLabel('Access token').fill('smt_this-token-does-not-exist-anywhere');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Not signed in: Access Token Invalid.' }).waitFor();
    assert.doesNotMatch(await page.locator('body').innerText(), /error\.list|"errors"|request_id/);

    await signIn(page, app.token);
    await page.getByText('No secrets yet.').waitFor();
    const stored = await page.evaluate<object>('({ local: localStorage.length, cookie: document.cookie, href: location.href })');
    assert.deepEqual(stored, { local: 0, cookie: '', href: `${app.url}/console#/secrets` });
    assert.deepEqual(await desktop.cookies(), []);
    watch.assertClean();
  });

  it('creates a secret and shows it once, with a copy button, until confirmed saved', async () => {
    const create = page.getByRole('button', { name: 'Create secret' });
    await create.click();
    const dialog = page.getByRole('dialog', { name: 'Create a secret' });
    await dialog.waitFor();
    assert.ok(await hasFocus(dialog.getByLabel('Name')));
    await dialog.getByLabel('Name').fill('Legacy web');
    await dialog.getByLabel('iOS').check();
    await shot(page, 'create-desktop');
    await dialog.getByLabel('Name').press('Enter');

    const shown = page.getByRole('dialog', { name: 'Save the secret for “Legacy web”' });
    await shown.waitFor();
    firstSecret = await shown.getByLabel('Secret', { exact: true }).inputValue();
    recordSensitive('secret', firstSecret);
    assert.match(firstSecret, /^[A-Za-z0-9_-]{43}$/);
    await shown.getByText('This is the only time this secret is shown.').waitFor();
    const done = shown.getByRole('button', { name: 'Done' });
    assert.ok(await done.isDisabled());

    // Escape does not close it while the secret has not been confirmed saved (Chromium closes on a second Escape).
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await page.evaluate('new Promise((resolve) => setTimeout(resolve, 0))');
    assert.equal(await page.evaluate<boolean>("document.querySelector('dialog')?.open"), true);
    assert.equal(await shown.getByLabel('Secret', { exact: true }).inputValue(), firstSecret);

    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), firstSecret);
    await shot(page, 'secret-shown-desktop');

    await shown.getByLabel('I have saved this secret somewhere safe').check();
    await done.click();
    await shown.waitFor({ state: 'detached' });
    assert.ok(await hasFocus(create), 'focus returns to the button that opened the dialog');
    await page.getByRole('status').filter({ hasText: 'Secret “Legacy web” created.' }).waitFor();
    const row = secretRow(page, 'Legacy web');
    await row.locator('.last-verified').getByText('Never').waitFor();
    assert.equal(
      await row
        .getByRole('listitem')
        .allInnerTexts()
        .then((t) => t.join(',')),
      'Web,iOS',
    );
    assert.equal(
      await page
        .locator('body')
        .innerText()
        .then((t) => t.includes(firstSecret)),
      false,
      'the secret is gone from the page',
    );
    watch.assertClean();
  });

  it('shows last-verified and usage after a user_hash signed with it verifies', async () => {
    const verified = await verify(firstSecret, 'user-1');
    assert.equal(verified.status, 200, verified.text);
    assert.equal(verified.body.verified, true);
    await app.runtime.usage.flush();

    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = secretRow(page, 'Legacy web');
    await row.locator('.last-verified').getByText('just now').waitFor();
    await row.locator('.usage').getByText('1 verification').waitFor();
    const chart = row.locator('.usage svg[role="img"]');
    assert.match((await chart.getAttribute('aria-label')) ?? '', /Web 1, iOS 0, Android 0/);
    watch.assertClean();
  });

  it('creates a second secret with the keyboard alone', async () => {
    await page.getByRole('button', { name: 'Create secret' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Create a secret' }).waitFor();
    await page.keyboard.type('Production web');
    await page.keyboard.press('Enter');
    const shown = page.getByRole('dialog', { name: 'Save the secret for “Production web”' });
    await shown.waitFor();
    secondSecret = await shown.getByLabel('Secret', { exact: true }).inputValue();
    recordSensitive('secret', secondSecret);
    assert.match(secondSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(secondSecret, firstSecret);
    await page.keyboard.press('Tab'); // Copy
    await page.keyboard.press('Tab'); // the confirmation box
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab'); // Done
    await page.keyboard.press('Enter');
    await shown.waitFor({ state: 'detached' });
    await secretRow(page, 'Production web').waitFor();

    const verified = await verify(secondSecret, 'user-2');
    assert.equal(verified.status, 200, verified.text);
    await app.runtime.usage.flush();
    watch.assertClean();
  });

  it('shows the workspace’s app_id from GET /me, and an empty rotation page', async () => {
    await page.getByRole('link', { name: 'Rotation', exact: true }).click();
    await page.getByRole('heading', { name: 'Rotation', exact: true }).waitFor();
    const workspace = page.locator('header .workspace');
    await workspace.locator('.app-id').getByText(app.workspace.appId, { exact: true }).waitFor();
    await workspace.getByText('identity verification on').waitFor();
    await page.getByText('No rotations yet.').waitFor();
    assert.equal(await page.locator('article.rotation').count(), 0);
    watch.assertClean();
  });

  it('deletes the first secret only after a loud warning about its recent traffic', async () => {
    await page.getByRole('link', { name: 'Secrets', exact: true }).click();
    await secretRow(page, 'Legacy web').getByRole('button', { name: 'Delete “Legacy web”' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “Legacy web”?' });
    await dialog.getByText('It last verified a user just now').waitFor();
    const warning = dialog.getByRole('alert');
    await warning.getByText('Traffic is still signed with this secret.').waitFor();
    await warning.getByText('1 verification in the last hour').waitFor();
    const confirm = dialog.getByRole('button', { name: 'Delete secret' });
    assert.ok(await confirm.isDisabled());
    assert.ok(await hasFocus(dialog.getByRole('button', { name: 'Cancel' })), 'the safe choice has focus');
    await shot(page, 'delete-desktop');

    await warning.getByLabel('I understand that users signed with this secret will fail verification').check();
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Secret “Legacy web” deleted.' }).waitFor();
    await secretRow(page, 'Legacy web').waitFor({ state: 'detached' });
    await secretRow(page, 'Production web').waitFor();
    await shot(page, 'secrets-desktop');

    const refused = await verify(firstSecret, 'user-1');
    assert.equal(refused.status, 401);
    watch.assertClean();
  });

  it('tests a hash: verified with the live secret, refused with the deleted one and told why', async () => {
    await page.getByRole('link', { name: 'Test a hash', exact: true }).click();
    await page.getByRole('heading', { name: 'Test a hash' }).waitFor();
    await page.getByLabel('user_id', { exact: true }).fill('user-1');
    await page.getByLabel('user_hash', { exact: true }).fill(userHash(secondSecret, 'user-1'));
    await page.getByRole('button', { name: 'Test' }).click();
    await page.locator('.verdict-ok').getByText('Verified: identity verification accepts this now.').waitFor();
    await page
      .locator('.diagnosed-secret')
      .getByText(/^“Production web” \(id \d+, live\)$/)
      .waitFor();

    await page.getByLabel('user_hash', { exact: true }).fill(userHash(firstSecret, 'user-1'));
    await page.getByRole('button', { name: 'Test' }).click();
    await page.locator('.verdict-fail').getByText('Not verified: identity verification refuses this.').waitFor();
    await page
      .locator('.diagnosed-secret')
      .getByText(/^“Legacy web” \(id \d+, deleted, deleted /)
      .waitFor();
    await page.locator('ol.causes li[data-code="deleted_secret"]').waitFor();
    await shot(page, 'diagnose-desktop');
    await page.getByRole('link', { name: 'Secrets', exact: true }).click();
    await secretRow(page, 'Production web').waitFor();
    watch.assertClean();
  });

  it('schedules a retirement time from the edit dialog', async () => {
    await secretRow(page, 'Production web').getByRole('button', { name: 'Edit “Production web”' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit “Production web”' });
    assert.ok(await hasFocus(dialog.getByLabel('Name')));
    // The browser runs in UTC, so an ISO string cut to minutes is its local datetime-local value.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    await dialog.getByLabel('Retire automatically at (your local time)').fill(tomorrow);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Secret “Production web” saved.' }).waitFor();
    await secretRow(page, 'Production web')
      .locator('.state-expiring')
      .getByText(/^Expires /)
      .waitFor();
    watch.assertClean();
  });

  it('finds all of it on the audit page, filterable by action and time', async () => {
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const rows = page.locator('table.audit tbody tr');
    await rows.first().waitFor();
    const created = page.locator('tr[data-action="secret.created"]');
    await created.filter({ hasText: 'Legacy web' }).waitFor();
    await created.filter({ hasText: 'Production web' }).waitFor();
    await page.locator('tr[data-action="secret.deleted"]').filter({ hasText: 'Legacy web' }).waitFor();
    await page.locator('tr[data-action="secret.updated"]').filter({ hasText: 'Production web' }).waitFor();
    await shot(page, 'audit-desktop');

    await page.getByLabel('Secret deleted').check();
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('Showing 1 event.').waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute('data-action'), 'secret.deleted');

    const inAnHour = new Date(Date.now() + 3_600_000).toISOString().slice(0, 16);
    await page.getByLabel('From (your local time)').fill(inAnHour);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No events match these filters.').waitFor();

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('tr[data-action="secret.created"]').first().waitFor();
    assert.ok((await rows.count()) >= 3);
    watch.assertClean();
  });

  it('shows a name made of markup as text', async () => {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: XSS_NAME, supports_android: true } });
    assert.equal(created.status, 201, created.text);
    await page.getByRole('link', { name: 'Secrets', exact: true }).click();
    const row = secretRow(page, XSS_NAME);
    await row.waitFor();
    assert.equal(await row.locator('.secret-name').textContent(), XSS_NAME);
    assert.equal(await page.locator('main img').count(), 0);
    await row.getByRole('button', { name: `Delete “${XSS_NAME}”` }).click();
    const dialog = page.getByRole('dialog', { name: `Delete “${XSS_NAME}”?` });
    await dialog.getByText('It has never verified a user.').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.locator('img').count(), 0);
    watch.assertClean();
  });

  it('is usable at phone width', async () => {
    const phone = await newContext(PHONE);
    const p = await phone.newPage();
    const phoneWatch = new PageWatch(p);
    // A mobile viewport widens itself to fit overflowing content, so compare with the device width itself.
    const fitsWidth = () =>
      p.evaluate<boolean>(`document.documentElement.scrollWidth <= ${PHONE.width} && window.innerWidth === ${PHONE.width}`);
    await p.goto(`${app.url}/console`);
    await p.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await shot(p, 'signin-phone');
    await signIn(p, app.token);
    await secretRow(p, 'Production web').locator('.usage svg').waitFor();
    assert.ok(await fitsWidth(), 'secrets page fits 390 px');
    await shot(p, 'secrets-phone');

    await p.getByRole('button', { name: 'Create secret' }).click();
    const dialog = p.getByRole('dialog', { name: 'Create a secret' });
    await dialog.getByLabel('Name').fill('Mobile apps');
    await dialog.getByLabel('Web').uncheck();
    await dialog.getByLabel('iOS').check();
    await dialog.getByLabel('Android').check();
    await shot(p, 'create-phone');
    await dialog.getByRole('button', { name: 'Create secret' }).click();
    const shown = p.getByRole('dialog', { name: 'Save the secret for “Mobile apps”' });
    await shown.getByRole('button', { name: 'Copy' }).waitFor();
    await shot(p, 'secret-shown-phone');
    await shown.getByLabel('I have saved this secret somewhere safe').check();
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });

    await secretRow(p, 'Production web').getByRole('button', { name: 'Delete “Production web”' }).click();
    const del = p.getByRole('dialog', { name: 'Delete “Production web”?' });
    await del.getByRole('alert').getByText('Traffic is still signed with this secret.').waitFor();
    await shot(p, 'delete-phone');
    await del.getByRole('button', { name: 'Cancel' }).click();
    await del.waitFor({ state: 'detached' });

    await p.getByRole('link', { name: 'Rotation', exact: true }).click();
    await p.getByText('No rotations yet.').waitFor();
    assert.ok(await fitsWidth(), 'rotation page fits 390 px');
    await shot(p, 'rotation-phone');

    await p.getByRole('link', { name: 'Audit log', exact: true }).click();
    await p.locator('tr[data-action="secret.deleted"]').first().waitFor();
    assert.ok(await fitsWidth(), 'audit page fits 390 px');
    await shot(p, 'audit-phone');
    phoneWatch.assertClean();
    await phone.close();
  });

  it('explains a missing scope, and signs out when the token is revoked', async () => {
    const { token, value } = await app.runtime.workspaces.createToken(
      app.workspace,
      ['read_secure_mode_secret'],
      'console read-only',
    );
    recordSensitive('token', value);
    const context = await newContext(DESKTOP);
    const p = await context.newPage();
    const readOnly = new PageWatch(p);
    await p.goto(`${app.url}/console`);
    await signIn(p, value);

    readOnly.expect(403, '/secure_mode_secrets');
    await p.getByRole('button', { name: 'Create secret' }).click();
    const dialog = p.getByRole('dialog', { name: 'Create a secret' });
    await dialog.getByLabel('Name').fill('Not allowed');
    await dialog.getByRole('button', { name: 'Create secret' }).click();
    await dialog
      .getByRole('alert')
      .filter({ hasText: 'Not created: You do not have the required scope (write_secure_mode_secret) to access this resource.' })
      .waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    await app.runtime.workspaces.revokeToken(token.id);
    readOnly.expect(401, '/secure_mode_secrets');
    await p.getByRole('button', { name: 'Refresh' }).click();
    await p.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await p.getByText('That access token is no longer accepted. Sign in again.').waitFor();
    assert.equal(await p.evaluate<number>('sessionStorage.length'), 0);
    readOnly.assertClean();
    await context.close();
  });

  it('runs a full rotation from the console: Rotate, sign with the old then the new secret, watch it complete', async () => {
    // The server deletes the old secret only after idle_for (at least 60 s) without traffic: this app's clock jumps
    // ahead on demand, so that minute passes without waiting for it. Its sweeper and usage flush run fast.
    let aheadMs = 0;
    const rotApp = await startTestApp({
      clock: { nowMs: () => Date.now() + aheadMs },
      env: { SECURE_MODE_CONSOLE_DIR: consoleDir, SECURE_MODE_SWEEP_INTERVAL_MS: '200', SECURE_MODE_USAGE_FLUSH_MS: '100' },
    });
    const context = await newContext(DESKTOP);
    try {
      const p = await context.newPage();
      const w = new PageWatch(p);
      const verifyOn = async (secret: string, platform: 'web' | 'ios', userId: string) =>
        (
          await api(rotApp, 'POST', '/identity_verification/verify', {
            token: null,
            body: { app_id: rotApp.workspace.appId, platform, user_id: userId, user_hash: userHash(secret, userId) },
          })
        ).status;
      await p.goto(`${rotApp.url}/console`);
      await signIn(p, rotApp.token);

      await p.getByRole('button', { name: 'Create secret' }).click();
      const create = p.getByRole('dialog', { name: 'Create a secret' });
      await create.getByLabel('Name').fill('Checkout');
      await create.getByLabel('iOS').check();
      await create.getByRole('button', { name: 'Create secret' }).click();
      const created = p.getByRole('dialog', { name: 'Save the secret for “Checkout”' });
      const oldSecret = await created.getByLabel('Secret', { exact: true }).inputValue();
      recordSensitive('secret', oldSecret);
      await created.getByLabel('I have saved this secret somewhere safe').check();
      await created.getByRole('button', { name: 'Done' }).click();
      await created.waitFor({ state: 'detached' });
      assert.equal(await verifyOn(oldSecret, 'web', 'user-1'), 200);

      await secretRow(p, 'Checkout').getByRole('button', { name: 'Rotate “Checkout”' }).click();
      const rotate = p.getByRole('dialog', { name: 'Rotate “Checkout”' });
      await rotate.getByLabel('Name of the new secret (optional)').fill('Checkout 2');
      await rotate.getByLabel('Delete the old secret after it has been idle for').selectOption('60');
      await rotate.getByRole('button', { name: 'Start rotation' }).click();
      const once = p.getByRole('dialog', { name: 'Save the new secret “Checkout 2”' });
      const newSecret = await once.getByLabel('Secret', { exact: true }).inputValue();
      recordSensitive('secret', newSecret);
      assert.match(newSecret, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(newSecret, oldSecret);
      await once.getByText('This is the only time this secret is shown.').waitFor();
      await once.getByText('Python', { exact: true }).click();
      assert.match(
        await once.locator('details[data-language="python"] code').innerText(),
        /secret = os\.environ\["INTERCOM_IDENTITY_SECRET"\]/,
      );
      assert.equal((await once.locator('.snippets').innerText()).includes(newSecret), false, 'snippets hold a placeholder');
      await shot(p, 'rotate-secret-shown-desktop');
      await once.getByLabel('I have saved this secret somewhere safe').check();
      await once.getByRole('button', { name: 'Done' }).click();
      await once.waitFor({ state: 'detached' });

      await p.getByRole('heading', { name: 'Rotation', exact: true }).waitFor();
      const card = p.locator('article.rotation').first();
      await card.locator('.rotation-state').getByText('Rolling out').waitFor();
      assert.equal(await card.locator('h2').innerText(), '“Checkout” → “Checkout 2”');
      await card.locator('tr[data-platform="web"] td.waiting').waitFor();
      await card.locator('tr[data-platform="ios"] td.waiting').waitFor();
      await card.getByText('Waiting for the new secret to verify a user on Web, iOS.').waitFor();
      await shot(p, 'rotation-rolling-out-desktop');

      // The servers still sign with the old secret, then move to the new one platform by platform; nobody clicks
      // Refresh: the page follows by itself.
      assert.equal(await verifyOn(oldSecret, 'ios', 'user-2'), 200);
      assert.equal(await verifyOn(newSecret, 'web', 'user-1'), 200);
      await card.locator('tr[data-platform="web"] td.seen').waitFor();
      await card.getByText('Waiting for the new secret to verify a user on iOS.').waitFor();
      assert.equal(await verifyOn(newSecret, 'ios', 'user-2'), 200);
      await card.locator('.rotation-state').getByText('Cutting over').waitFor();
      await card.getByText(/verified nobody for 1 minute\./).waitFor();
      await shot(p, 'rotation-cutting-over-desktop');

      aheadMs = 61_000;
      await card.locator('.rotation-state').getByText('Completed').waitFor();
      await card.getByText('The old secret was deleted; the new one is the only one in use.').waitFor();
      assert.equal(await card.getByRole('button', { name: 'Complete now…' }).count(), 0);
      await p.getByText(/^Updated [^.]*\.$/).waitFor();
      assert.equal(await verifyOn(oldSecret, 'web', 'user-1'), 401);
      assert.equal(await verifyOn(newSecret, 'web', 'user-1'), 200);
      await shot(p, 'rotation-completed-desktop');

      // Neither secret is kept anywhere in the page once its dialog closed: not in storage, markup or a field.
      for (const value of [oldSecret, newSecret]) {
        const found = await p.evaluate<boolean>(
          `(() => { const v = ${JSON.stringify(value)}; return JSON.stringify({ ...localStorage }).includes(v) || JSON.stringify({ ...sessionStorage }).includes(v) || document.documentElement.outerHTML.includes(v) || document.body.innerText.includes(v) || [...document.querySelectorAll('input, textarea')].some((e) => e.value.includes(v)); })()`,
        );
        assert.equal(found, false);
      }
      assert.equal(await p.evaluate<number>('localStorage.length'), 0);
      w.assertClean();
    } finally {
      await context.close();
      await rotApp.close();
    }
  });

  it('cancels a rotation keeping a new secret already in use, and completes one by force, each after a refusal', async () => {
    const own = await startTestApp({ env: { SECURE_MODE_CONSOLE_DIR: consoleDir } });
    const context = await newContext(DESKTOP);
    try {
      const p = await context.newPage();
      const w = new PageWatch(p);
      const secret = await api(own, 'POST', '/secure_mode_secrets', { body: { name: 'Billing', supports_web: true } });
      assert.equal(secret.status, 201, secret.text);
      recordSensitive('secret', secret.body.secret);
      // The old secret is in use, so the server's sweeper does not complete the rotations below by itself.
      const oldVerified = await api(own, 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: own.workspace.appId, platform: 'web', user_id: 'u-0', user_hash: userHash(secret.body.secret, 'u-0') },
      });
      assert.equal(oldVerified.status, 200, oldVerified.text);
      await p.goto(`${own.url}/console`);
      await signIn(p, own.token);

      const rotateFromConsole = async (name: string) => {
        await secretRow(p, name)
          .getByRole('button', { name: `Rotate “${name}”` })
          .click();
        await p
          .getByRole('dialog', { name: `Rotate “${name}”` })
          .getByRole('button', { name: 'Start rotation' })
          .click();
        const once = p.getByRole('dialog', { name: `Save the successor of “${name}”` });
        const value = await once.getByLabel('Secret', { exact: true }).inputValue();
        recordSensitive('secret', value);
        await once.getByLabel('I have saved this secret somewhere safe').check();
        await once.getByRole('button', { name: 'Done' }).click();
        await once.waitFor({ state: 'detached' });
        const card = p.locator('article.rotation[data-state="rolling_out"]');
        await card.waitFor();
        return { value, card, id: (await card.getAttribute('data-rotation-id'))! };
      };

      // The new secret already verified users: a plain cancel is refused, keeping it is an explicit second choice.
      const first = await rotateFromConsole('Billing');
      const verified = await api(own, 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: own.workspace.appId, platform: 'web', user_id: 'u-1', user_hash: userHash(first.value, 'u-1') },
      });
      assert.equal(verified.status, 200, verified.text);
      await own.runtime.usage.flush();
      w.expect(409, `/secure_mode_rotations/${first.id}/cancel`);
      await first.card.getByRole('button', { name: 'Cancel rotation…' }).click();
      const cancel = p.getByRole('dialog', { name: 'Cancel this rotation?' });
      assert.ok(await hasFocus(cancel.getByRole('button', { name: 'Back' })), 'the safe choice has focus');
      await cancel.getByRole('button', { name: 'Cancel rotation' }).click();
      await cancel
        .getByRole('alert')
        .getByText(/^Not cancelled: The new secret verified traffic at .*use keep_new=true/)
        .waitFor();
      await shot(p, 'rotation-cancel-refused-desktop');
      await cancel.getByRole('button', { name: 'Cancel and keep the new secret' }).click();
      await cancel.waitFor({ state: 'detached' });
      await p.locator(`article.rotation[data-rotation-id="${first.id}"] .rotation-state`).getByText('Cancelled').waitFor();
      await p.getByRole('status').filter({ hasText: 'Rotation cancelled;' }).waitFor();

      // Completing before the new secret verified anywhere is refused; forcing needs the acknowledgement ticked.
      await p.getByRole('link', { name: 'Secrets', exact: true }).click();
      const second = await rotateFromConsole('Billing');
      w.expect(409, `/secure_mode_rotations/${second.id}/complete`);
      await second.card.getByRole('button', { name: 'Complete now…' }).click();
      const complete = p.getByRole('dialog', { name: 'Complete this rotation now?' });
      await complete.getByRole('button', { name: 'Complete rotation' }).click();
      await complete
        .getByRole('alert')
        .getByText(/^Not completed: The new secret has not verified on web yet/)
        .waitFor();
      const force = complete.getByRole('button', { name: 'Force: delete the old secret now' });
      assert.ok(await force.isDisabled());
      await complete.getByLabel('I understand that users still signed with “Billing” will fail verification').check();
      await shot(p, 'rotation-force-desktop');
      await force.click();
      await complete.waitFor({ state: 'detached' });
      await p.locator(`article.rotation[data-rotation-id="${second.id}"] .rotation-state`).getByText('Completed').waitFor();
      const old = await api(own, 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: own.workspace.appId, platform: 'web', user_id: 'u-1', user_hash: userHash(secret.body.secret, 'u-1') },
      });
      assert.equal(old.status, 401);

      // A rotation past its deadline says so. Nothing is open, so the page stopped refreshing: Refresh starts it again.
      const live = (await api(own, 'GET', '/secure_mode_secrets')).body.data[0].id;
      const late = await api(own, 'POST', '/secure_mode_rotations', {
        body: { secret_id: live, deadline: Math.floor(Date.now() / 1000) + 1 },
      });
      assert.equal(late.status, 201, late.text);
      recordSensitive('secret', late.body.secret);
      await p.getByRole('button', { name: 'Refresh' }).click();
      const lateCard = p.locator(`article.rotation[data-rotation-id="${late.body.id}"]`);
      await lateCard.locator('.rotation-state').getByText('Rolling out').waitFor();
      await lateCard
        .locator('.overdue')
        .getByText(/^Overdue: the deadline .* has passed and the old secret is still live\.$/)
        .waitFor();
      await shot(p, 'rotation-overdue-desktop');
      await p.setViewportSize(PHONE);
      await lateCard.locator('table.progress').waitFor();
      assert.ok(await p.evaluate<boolean>(`document.documentElement.scrollWidth <= ${PHONE.width}`), 'rotations fit 390 px');
      await shot(p, 'rotation-overdue-phone');
      w.assertClean();
    } finally {
      await context.close();
      await own.close();
    }
  });

  it('adds a webhook endpoint showing its signing secret once, lists a delivery, deletes it; sets the policy and marks a secret due', async () => {
    // Deliveries go only to this loopback receiver (allowed by SECURE_MODE_WEBHOOK_ALLOW_PRIVATE). The server's clock
    // can run behind, so a secret is created "two days ago" and is past a one-day policy by the browser's clock.
    let aheadMs = 0;
    const receiver = new WebhookReceiver();
    const hookUrl = await receiver.start();
    const own = await startTestApp({
      clock: { nowMs: () => Date.now() + aheadMs },
      env: { SECURE_MODE_CONSOLE_DIR: consoleDir, SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true' },
    });
    const context = await newContext(DESKTOP);
    try {
      const p = await context.newPage();
      const w = new PageWatch(p);
      await p.goto(`${own.url}/console`);
      await signIn(p, own.token);
      await p.getByRole('link', { name: 'Webhooks', exact: true }).click();
      await p.getByRole('heading', { name: 'Webhooks' }).waitFor();
      await p.getByText('No webhook endpoints yet.').waitFor();

      // The server's refusal goes under the field it names.
      await p.getByRole('button', { name: 'Add endpoint' }).click();
      const add = p.getByRole('dialog', { name: 'Add a webhook endpoint' });
      w.expect(422, '/webhook_endpoints');
      await add.getByLabel('URL').fill('ftp://127.0.0.1/hook');
      await add.getByRole('button', { name: 'Add endpoint' }).click();
      await add.getByRole('alert').filter({ hasText: 'url must use https.' }).waitFor();
      assert.equal(await add.getByLabel('URL').getAttribute('aria-invalid'), 'true');
      assert.ok(await hasFocus(add.getByLabel('URL')));

      // Only secret.created, with a description.
      await add.getByLabel('URL').fill(hookUrl);
      await add.getByLabel('All events, including types added later').uncheck();
      await add.getByRole('button', { name: 'Add endpoint' }).click();
      await add.getByRole('alert').filter({ hasText: 'Choose at least one event type, or all events.' }).waitFor();
      await add.getByLabel('secret.created').check();
      await add.getByLabel('Description (optional)').fill('Console test receiver');
      await add.getByRole('button', { name: 'Add endpoint' }).click();
      const once = p.getByRole('dialog', { name: `Save the signing secret for ${hookUrl}` });
      await once.getByText('This is the only time this secret is shown.').waitFor();
      const whsec = await once.getByLabel('Secret', { exact: true }).inputValue();
      recordSensitive('secret', whsec);
      assert.match(whsec, /^whsec_[A-Za-z0-9+/]{43}=$/);
      await p.keyboard.press('Escape');
      assert.ok(await once.isVisible(), 'Escape does not close it before it is confirmed saved');
      await shot(p, 'webhook-secret-shown-desktop');
      await once.getByLabel('I have saved this secret somewhere safe').check();
      await once.getByRole('button', { name: 'Done' }).click();
      await once.waitFor({ state: 'detached' });

      const card = p.locator('article.webhook');
      await card.locator('.webhook-url').getByText(hookUrl, { exact: true }).waitFor();
      assert.equal(await card.locator('.webhook-events').innerText(), 'secret.created');
      await card.getByText('Console test receiver').waitFor();
      const found = await p.evaluate<boolean>(
        `(() => { const v = ${JSON.stringify(whsec)}; return JSON.stringify({ ...localStorage }).includes(v) || JSON.stringify({ ...sessionStorage }).includes(v) || document.documentElement.outerHTML.includes(v) || [...document.querySelectorAll('input, textarea')].some((e) => e.value.includes(v)); })()`,
      );
      assert.equal(found, false, 'the signing secret is gone once its dialog closed');
      // The API never shows it again either.
      assert.equal((await api(own, 'GET', '/webhook_endpoints')).text.includes(whsec), false);

      // A secret created two days ago (by the server's clock) raises secret.created, delivered to the receiver.
      aheadMs = -2 * 86_400_000;
      const created = await api(own, 'POST', '/secure_mode_secrets', { body: { name: 'Aged', supports_web: true } });
      aheadMs = 0;
      assert.equal(created.status, 201, created.text);
      recordSensitive('secret', created.body.secret);
      await receiver.until(() => receiver.received.length >= 1);
      const event = receiver.received[0]!;
      assert.equal(JSON.parse(event.body).type, 'secret.created');
      // The attempt is recorded once the receiver's answer is in; wait for it through the API, then open the list.
      const endpointId = (await card.getAttribute('data-endpoint-id'))!;
      while ((await api(own, 'GET', `/webhook_endpoints/${endpointId}/deliveries`)).body.data.length === 0)
        await new Promise((resolve) => setTimeout(resolve, 50));
      await card.getByText('Deliveries', { exact: true }).click();
      const delivery = card.locator('table.deliveries tbody tr').first();
      await delivery.waitFor();
      assert.equal(await delivery.locator('.event-id').innerText(), event.id);
      assert.equal(await delivery.locator('td').nth(1).innerText(), 'secret.created');
      assert.equal(await delivery.locator('td').nth(3).innerText(), 'HTTP 204');
      assert.match(await delivery.locator('td').nth(4).innerText(), /^\d[\d,]* ms$/);
      await shot(p, 'webhooks-desktop');
      await p.setViewportSize(PHONE);
      assert.ok(await p.evaluate<boolean>(`document.documentElement.scrollWidth <= ${PHONE.width}`), 'webhooks fit 390 px');
      await shot(p, 'webhooks-phone');
      await p.setViewportSize(DESKTOP);

      await card.getByRole('button', { name: `Delete the endpoint ${hookUrl}` }).click();
      const del = p.getByRole('dialog', { name: 'Delete this webhook endpoint?' });
      assert.ok(await hasFocus(del.getByRole('button', { name: 'Cancel' })), 'the safe choice has focus');
      await del.getByRole('button', { name: 'Delete endpoint' }).click();
      await del.waitFor({ state: 'detached' });
      await p.getByText('No webhook endpoints yet.').waitFor();
      assert.deepEqual((await api(own, 'GET', '/webhook_endpoints')).body.data, []);

      // No policy yet: nothing is due.
      await p.getByRole('link', { name: 'Secrets', exact: true }).click();
      await secretRow(p, 'Aged').waitFor();
      assert.equal(await p.getByText('Due for rotation').count(), 0);

      // The policy form: a bad max age is refused in the form; auto_rotate without a rollout command by the server.
      await p.getByRole('link', { name: 'Rotation', exact: true }).click();
      const policy = p.locator('section.policy');
      const maxAge = policy.getByLabel('Maximum age of a secret, in days');
      await policy.getByText('Never set: these are the defaults.').waitFor();
      assert.equal(await maxAge.inputValue(), '');
      await maxAge.fill('0');
      await policy.getByRole('button', { name: 'Save policy' }).click();
      await policy.getByRole('alert').filter({ hasText: 'Enter a whole number of days from 1 to 3650' }).waitFor();
      await maxAge.fill('1');
      await policy.getByLabel('Rotate due secrets automatically (needs a rollout command on the server)').check();
      w.expect(422, '/secure_mode_rotation_policy');
      await policy.getByRole('button', { name: 'Save policy' }).click();
      await policy
        .getByRole('alert')
        .filter({ hasText: /^Not saved: auto_rotate needs a rollout command: set SECURE_MODE_ROLLOUT_COMMAND on the server/ })
        .waitFor();
      await shot(p, 'policy-refused-desktop');
      assert.equal((await api(own, 'GET', '/secure_mode_rotation_policy')).body.max_age_days, null, 'nothing saved');
      await policy.getByLabel('Rotate due secrets automatically (needs a rollout command on the server)').uncheck();
      await policy.getByRole('button', { name: 'Save policy' }).click();
      await p.getByRole('status').filter({ hasText: 'Rotation policy saved.' }).waitFor();
      await policy.getByText(/^Last saved /).waitFor();
      const saved = (await api(own, 'GET', '/secure_mode_rotation_policy')).body;
      assert.deepEqual([saved.max_age_days, saved.idle_for, saved.auto_rotate], [1, 3600, false]);

      // Two days old against one: due, with Rotate beside it; a secret created now is not.
      const fresh = await api(own, 'POST', '/secure_mode_secrets', { body: { name: 'Fresh', supports_web: true } });
      assert.equal(fresh.status, 201, fresh.text);
      recordSensitive('secret', fresh.body.secret);
      await p.getByRole('link', { name: 'Secrets', exact: true }).click();
      await secretRow(p, 'Aged').getByText('Due for rotation').waitFor();
      await secretRow(p, 'Aged').getByRole('button', { name: 'Rotate “Aged”' }).waitFor();
      assert.equal(await secretRow(p, 'Fresh').getByText('Due for rotation').count(), 0);
      await shot(p, 'secrets-due-desktop');

      // The form shows what was saved.
      await p.getByRole('link', { name: 'Rotation', exact: true }).click();
      await p
        .locator('section.policy')
        .getByText(/^Last saved /)
        .waitFor();
      assert.equal(await p.locator('section.policy').getByLabel('Maximum age of a secret, in days').inputValue(), '1');
      w.assertClean();
    } finally {
      await context.close();
      await own.close();
      await receiver.stop();
    }
  });

  it('signs out, forgetting the token; the token never appears in a URL', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await page.getByText('You are signed out.').waitFor();
    assert.deepEqual(await page.evaluate<number[]>('[sessionStorage.length, localStorage.length]'), [0, 0]);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    assert.deepEqual(
      watch.urls.filter((u) => u.includes(app.token)),
      [],
    );
    watch.assertClean();
  });
});
