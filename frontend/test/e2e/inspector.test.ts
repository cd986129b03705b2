import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getSessionState } from '../../src/lib/session';
import { FRONTEND_DIR } from '../support/gateway';
import { mintToken } from '../support/token';

// Debian's Chromium, headless; a downloaded browser build is not used.
const CHROMIUM = process.env.STATEWAY_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

let browser: Browser;
let page: Page;
/** Script errors and console errors of the page, and server errors it met. */
const problems: string[] = [];
const url = inject('gatewayUrl');
const secret = inject('jwtSecret');
const suffix = Math.random().toString(36).slice(2, 8);
const ids = { client: `acme-${suffix}`, user: `alice-${suffix}`, app: 'web', project: `p-${suffix}` };
const token = mintToken(secret, { sub: ids.user, client_id: ids.client });

beforeAll(async () => {
  if (!existsSync(join(FRONTEND_DIR, 'dist', 'index.html'))) {
    throw new Error('The inspector is not built: run `npm run build` in frontend/ first.');
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  page = await browser.newPage();
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    // A 4xx the page handles (e.g. 404 for a project never saved) is logged by Chromium too.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(message.text());
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 500) problems.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(`${url}/inspector/`, { waitUntil: 'load' });
});

afterAll(async () => {
  await browser?.close();
});

async function status(): Promise<string> {
  return (await page.textContent('#status')) ?? '';
}

/** What the page keeps in localStorage. */
async function storedEntry(): Promise<string> {
  return (await page.evaluate(() => localStorage.getItem('stateway.environment'))) ?? '';
}

async function fillIds(): Promise<void> {
  await page.fill('#token', token);
  await page.fill('#client-id', ids.client);
  await page.fill('#user-id', ids.user);
  await page.fill('#app-id', ids.app);
  await page.fill('#project-id', ids.project);
}

describe('the inspector in headless Chromium', () => {
  it('updates a key through the page, and shows it again after a reload when the token is remembered', async () => {
    expect(await page.title()).toBe('Stateway inspector');
    expect(await status()).toBe('Paste a token and enter the four ids to begin.');
    await fillIds();
    await page.click('#init-session');
    await expect.poll(status).toBe('Session created.');
    expect(await page.textContent('#session-state')).toContain('"navigation": []');

    await page.fill('#edit-key', 'theme');
    await page.fill('#edit-value', '{"mode": "dark"}');
    await page.click('#update-key');
    await expect.poll(status).toMatch(/^Set theme; the session is at version 2\.$/);

    // By default the token is kept in the tab only: storage has the ids, not the token.
    expect(await storedEntry()).toContain(ids.project);
    expect(await storedEntry()).not.toContain(token);
    await page.reload();
    await expect.poll(status).toBe('Paste the token to go on with this session: it is not remembered on this device.');
    expect(await page.inputValue('#token')).toBe('');
    expect(await page.inputValue('#client-id')).toBe(ids.client);

    // Asked to remember it, the page keeps the token, and a reload loads the session by itself.
    await page.fill('#token', token);
    await page.check('#remember-token');
    await page.click('#load-session');
    await expect.poll(status).toMatch(/^Session at version 2 \(from (cache|store)\)\.$/);
    expect(await storedEntry()).toContain(token);
    await page.reload();
    await expect.poll(status).toMatch(/^Session at version 2 \(from (cache|store)\)\.$/);
    expect(await page.inputValue('#token')).toBe(token);
    expect(await page.isChecked('#remember-token')).toBe(true);
    const shown = JSON.parse((await page.textContent('#session-state')) ?? '{}') as Record<string, unknown>;
    expect(shown.theme).toEqual({ mode: 'dark' });
    expect(await page.inputValue('#project-id')).toBe(ids.project);

    // The page wrote through the API: the library sees the same state.
    const environment = {
      token,
      clientId: ids.client,
      userId: ids.user,
      appId: ids.app,
      projectId: ids.project,
      apiBaseUrl: url,
    };
    expect((await getSessionState({ environment })).state.theme).toEqual({ mode: 'dark' });
    expect(problems).toEqual([]);
  });

  it('shows an API error with its code and request id', async () => {
    await page.fill('#edit-key', '$set');
    await page.fill('#edit-value', '1');
    await page.click('#update-key');
    await expect.poll(status).toMatch(/^400 invalid_key: .+ \(request [0-9a-zA-Z-]+\)$/);
  });

  it('saves project versions and restores one from the snapshot timeline', async () => {
    await page.fill('#project-value', '{"doc": "first"}');
    await page.click('#save-project');
    await expect.poll(status).toMatch(/^Saved version 1 \(snapshot 1-\d{8}T\d{9}Z\)\.$/);
    await page.fill('#project-value', '{"doc": "second"}');
    await page.click('#save-project');
    await expect.poll(status).toMatch(/^Saved version 2 /);
    await expect.poll(() => page.locator('#snapshots li').count()).toBe(2);

    await page.click('#snapshots li:last-child button.restore');
    await expect.poll(status).toMatch(/^Restored 1-\d{8}T\d{9}Z as version 3\.$/);
    expect(JSON.parse((await page.textContent('#project-state')) ?? '{}')).toEqual({ doc: 'first' });
    expect(await page.locator('#snapshots li').count()).toBe(3);
    if (process.env.STATEWAY_SCREENSHOT) await page.screenshot({ path: process.env.STATEWAY_SCREENSHOT, fullPage: true });
  });

  it('takes the token out of storage when the remember box is unticked', async () => {
    expect(await storedEntry()).toContain(token);
    await page.uncheck('#remember-token');
    await expect.poll(status).toBe('The token is kept in this tab only.');
    expect(await storedEntry()).not.toContain(token);
    // The tab still has it.
    await page.click('#load-session');
    await expect.poll(status).toMatch(/^Session at version 2 /);
    await page.reload();
    expect(await page.inputValue('#token')).toBe('');
    expect(problems).toEqual([]);
  });
});
