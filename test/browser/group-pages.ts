import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

const repoRoot = new URL('../..', import.meta.url).pathname;
export const SCREENSHOT_DIR = join(repoRoot, 'test-artifacts', 'screenshots');
const DOC_SCREENSHOT_DIR = join(repoRoot, 'docs', 'screenshots');

/** Debian's Chromium; Playwright gives every launch a new, empty profile directory. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
}

/** A person's browser: its own cookies. The server's certificate is self-signed (apps pin it; a person clicks through). */
export function newPerson(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 800 }, locale: 'en-GB' });
}

/**
 * Saves a full-page screenshot as a test artifact; with RINGVPN_UPDATE_DOC_SCREENSHOTS=1 it is
 * also copied into docs/screenshots for the README.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (process.env.RINGVPN_UPDATE_DOC_SCREENSHOTS === '1') {
    mkdirSync(DOC_SCREENSHOT_DIR, { recursive: true });
    copyFileSync(path, join(DOC_SCREENSHOT_DIR, `${name}.png`));
  }
}

/** The start page and the group admin's pages, reached by role and label like a person would. */
export class AdminPages {
  constructor(
    readonly page: Page,
    readonly baseUrl: string,
  ) {}

  async createGroup(g: { name: string; username: string; email: string; password: string }): Promise<void> {
    await this.page.goto(`${this.baseUrl}/`);
    await this.page.getByLabel('Group name').fill(g.name);
    await this.page.getByLabel('Your admin user name').fill(g.username);
    await this.page.getByLabel('Your e-mail').fill(g.email);
    await this.page.getByLabel('Password').fill(g.password);
  }

  async submitCreate(): Promise<void> {
    await this.page.getByRole('button', { name: 'Create group' }).click();
    await this.page.getByRole('heading', { name: 'Invitation' }).waitFor();
  }

  async webJoinLink(): Promise<string> {
    const href = await this.page.getByRole('link', { name: 'Web join page' }).getAttribute('href');
    if (href === null) throw new Error('no web join link on the group page');
    return href;
  }

  async invitationLink(): Promise<string> {
    return (await this.page.getByLabel('Invitation link').textContent())?.trim() ?? '';
  }

  /** Goes back to the group page and reads the invitation link there. */
  async invitationLinkFromGroupPage(): Promise<string> {
    await this.page.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: 'Invitation and settings' }).click();
    return this.invitationLink();
  }

  async openRequests(): Promise<void> {
    await this.page.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: /Join requests/ }).click();
    await this.page.getByRole('heading', { name: 'Waiting for approval' }).waitFor();
  }

  async openMembers(): Promise<void> {
    await this.page.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: 'Members' }).click();
    await this.page.getByRole('heading', { name: 'Members' }).waitFor();
  }

  async approve(name: string): Promise<void> {
    await this.page.getByRole('button', { name: `Approve ${name}` }).click();
    await this.page.getByRole('status').filter({ hasText: 'Approved' }).waitFor();
  }

  async ban(name: string): Promise<void> {
    await this.page.getByRole('button', { name: `Ban ${name}` }).click();
    await this.page.getByRole('status').filter({ hasText: 'Member banned' }).waitFor();
  }

  /** Clicks one of a member's buttons (by its label) and waits for the page's notice. */
  async memberAction(label: string, notice: string): Promise<void> {
    await this.page.getByRole('button', { name: label }).click();
    await this.page.getByRole('status').filter({ hasText: notice }).waitFor();
  }

  /** Sets "Sign certificates automatically" on the group page and saves. */
  async setAutomaticSigning(on: boolean): Promise<void> {
    await this.page.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: 'Invitation and settings' }).click();
    await this.page.getByLabel('Sign certificates automatically').setChecked(on);
    await this.page.getByRole('button', { name: 'Save' }).click();
    await this.page.getByRole('status').filter({ hasText: 'Settings saved' }).waitFor();
  }

  memberRow(name: string) {
    return this.page.getByRole('row').filter({ has: this.page.getByRole('cell', { name, exact: true }) });
  }

  async logOut(): Promise<void> {
    await this.page.getByRole('button', { name: 'Log out' }).click();
  }
}

/** The join page a person without the app fills in. */
export class JoinPage {
  constructor(readonly page: Page) {}

  async open(link: string): Promise<void> {
    await this.page.goto(link);
    await this.page.getByRole('heading', { name: /^Join / }).waitFor();
  }

  async fill(name: string, email: string): Promise<void> {
    await this.page.getByLabel('Your name').fill(name);
    await this.page.getByLabel('Your e-mail address').fill(email);
    await this.page.getByLabel('I accept the terms of this group').check();
  }

  async submit(): Promise<string> {
    await this.page.getByRole('button', { name: 'Ask to join' }).click();
    await this.page.getByRole('heading', { name: 'Request sent' }).waitFor();
    return ((await this.page.getByLabel('Join code').textContent()) ?? '').trim();
  }
}
