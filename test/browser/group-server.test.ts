import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { GroupServer } from '../../src/group-server/app.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { joinGroup } from '../../src/groups/join.js';
import { parseInvitation } from '../../src/groups/invitation.js';
import { makeTempDir, startTestServer } from '../groups/server-fixture.js';
import { AdminPages, JoinPage, launchChromium, newPerson, screenshot } from './group-pages.js';

const temp = makeTempDir('browser');
let server: GroupServer;
let browser: Browser;

before(async () => {
  await cryptoReady();
  server = await startTestServer(join(temp.path, 'server'));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
  temp.remove();
});

test('create a group, ask to join on the web, approve, see the member, ban them', async () => {
  const adminContext = await newPerson(browser);
  const visitorContext = await newPerson(browser);
  const admin = new AdminPages(await adminContext.newPage(), server.url);
  const visitor = new JoinPage(await visitorContext.newPage());

  await admin.createGroup({ name: 'Hiking club', username: 'ada', email: 'ada@example.org', password: 'a long admin password' });
  await screenshot(admin.page, '01-create-group');
  await admin.submitCreate();
  assert.match(await admin.invitationLink(), /^ringvpn:\/\/join\?server=/);
  await admin.page.getByRole('img', { name: 'QR code of the invitation' }).waitFor();
  await screenshot(admin.page, '02-group-invitation');

  const webLink = await admin.webJoinLink();
  await visitor.open(webLink);
  await visitor.fill('Hanna <b>Berg</b>', 'hanna@example.org');
  await screenshot(visitor.page, '03-join-page');
  const joinCode = await visitor.submit();
  assert.match(joinCode, /^rvj1\./);
  await screenshot(visitor.page, '04-join-code');

  await admin.openRequests();
  const row = admin.page.getByRole('row').filter({ hasText: 'hanna@example.org' });
  await row.waitFor();
  assert.equal(await row.getByRole('cell').first().textContent(), 'Hanna <b>Berg</b>', 'markup in a name is shown as text');
  await screenshot(admin.page, '05-join-queue');
  await admin.approve('Hanna <b>Berg</b>');

  // Hanna's app uses the join code; the server signs the certificate at once since she is approved.
  const invitation = parseInvitation(await admin.invitationLinkFromGroupPage());
  assert.ok(invitation.ok);
  const joined = await joinGroup({ invitation: invitation.value, name: 'unused', email: 'unused@example.org', joinCode, stateDir: join(temp.path, 'hanna') });
  assert.equal(joined.certificate.name, 'Hanna <b>Berg</b>');

  await admin.openMembers();
  const member = admin.memberRow('Hanna <b>Berg</b>');
  await member.getByText('active').waitFor();
  // Her app's certificate request counts as being seen: the list shows when, not "never".
  const lastSeen = (await member.getByRole('cell').nth(5).textContent()) ?? '';
  assert.match(lastSeen, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  await screenshot(admin.page, '06-members');

  // The gateway role, on and off with one click each.
  await admin.memberAction('Make Hanna <b>Berg</b> a gateway', 'is now a gateway');
  assert.equal(await admin.memberRow('Hanna <b>Berg</b>').getByRole('cell').nth(3).textContent(), 'gateway');
  await admin.memberAction('Turn gateway off for Hanna <b>Berg</b>', 'no longer a gateway');
  assert.equal(await admin.memberRow('Hanna <b>Berg</b>').getByRole('cell').nth(3).textContent(), 'member');
  await admin.ban('Hanna <b>Berg</b>');
  await member.getByText('banned').waitFor();
  await screenshot(admin.page, '07-member-banned');

  await visitor.page.goto(`${server.url}/join/${joined.groupId}/status/${/rvj1\.([0-9a-f]{32})\./.exec(joinCode)?.[1]}`);
  await visitor.page.getByText('removed', { exact: true }).waitFor();
  await visitor.page.getByText('an admin has since removed the membership').waitFor();

  // A second admin: a one-time link on the Admins tab.
  await admin.page.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: 'Admins' }).click();
  await admin.page.getByRole('button', { name: 'Make an admin invitation link' }).click();
  const adminLink = ((await admin.page.getByLabel('Admin invitation link').textContent()) ?? '').trim();
  assert.match(adminLink, /\/admin-invite\/[A-Za-z0-9_-]{32}$/);
  await screenshot(admin.page, '09-admins');
  const secondContext = await newPerson(browser);
  const second = await secondContext.newPage();
  await second.goto(adminLink);
  await second.getByLabel('Your admin user name').fill('bodil');
  await second.getByLabel('Your e-mail').fill('bodil@example.org');
  await second.getByLabel('Password').fill('another admin password');
  await second.getByRole('button', { name: 'Become an admin' }).click();
  await second.getByRole('heading', { name: 'Invitation' }).waitFor();
  await secondContext.close();

  // Automatic signing: once saved, a request from the web page is approved at once, without the queue.
  await admin.setAutomaticSigning(true);
  assert.ok(await admin.page.getByLabel('Sign certificates automatically').isChecked());
  await visitor.open(webLink);
  await visitor.fill('Ines', 'ines@example.org');
  await visitor.page.getByRole('button', { name: 'Ask to join' }).click();
  await visitor.page.getByRole('heading', { name: 'You are approved' }).waitFor();
  await admin.openRequests();
  await admin.page.getByText('No one is waiting.').waitFor();
  await admin.setAutomaticSigning(false);
  assert.ok(!(await admin.page.getByLabel('Sign certificates automatically').isChecked()));

  await admin.logOut();
  await admin.page.getByRole('link', { name: 'Admin login' }).click();
  await admin.page.getByRole('heading', { name: 'Admin login' }).waitFor();
  await screenshot(admin.page, '08-login');
  await adminContext.close();
  await visitorContext.close();
});
