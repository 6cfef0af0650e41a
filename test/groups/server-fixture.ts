import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GroupServer, type GroupServerOptions, startGroupServer } from '../../src/group-server/app.js';
import { type Invitation, parseInvitation } from '../../src/groups/invitation.js';
import { WebSession, decodeEntities } from './web-session.js';

export function makeTempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `ringvpn-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

const GENEROUS = { max: 10_000, timeWindow: 60_000 };

/** A group server on loopback (port 0) over a real data directory; rate limits are generous unless a test sets them. */
export function startTestServer(dataDir: string, options: Partial<GroupServerOptions> = {}): Promise<GroupServer> {
  return startGroupServer({
    dataDir,
    port: 0,
    host: '127.0.0.1',
    http: false,
    smtpUrl: null,
    publicUrl: null,
    ...options,
    rateLimits: { join: GENEROUS, certificate: GENEROUS, login: GENEROUS, create: GENEROUS, ...options.rateLimits },
  });
}

export interface TestGroup {
  admin: WebSession;
  groupId: string;
  invitation: Invitation;
  invitationLink: string;
}

/** Creates a group through the web form, as a person would, and reads its invitation off the group page. */
export async function createGroupThroughWeb(server: GroupServer, name = 'Test group', username = 'admin'): Promise<TestGroup> {
  const admin = new WebSession(server.url);
  await admin.get('/');
  const page = await admin.post('/groups', { groupName: name, username, email: `${username}@example.org`, password: 'correct horse battery', terms: '' });
  if (page.status !== 200) throw new Error(`group creation failed: ${page.status} ${page.text.slice(0, 500)}`);
  const link = /aria-label="Invitation link">([^<]+)</.exec(page.text);
  if (link === null) throw new Error('no invitation link on the group page');
  const invitationLink = decodeEntities(link[1] as string);
  const parsed = parseInvitation(invitationLink);
  if (!parsed.ok) throw new Error(parsed.error);
  return { admin, groupId: parsed.value.groupId, invitation: parsed.value, invitationLink };
}

/** Ids of pending requests in the queue page, in order. */
export async function pendingRequestIds(admin: WebSession, groupId: string): Promise<string[]> {
  const page = await admin.get(`/groups/${groupId}/requests`);
  return [...page.text.matchAll(/action="\/groups\/[0-9a-f]{32}\/requests\/([0-9a-f]{32})\/approve"/g)].map((m) => m[1] as string);
}

export async function memberIds(admin: WebSession, groupId: string): Promise<string[]> {
  const page = await admin.get(`/groups/${groupId}/members`);
  return [...new Set([...page.text.matchAll(/action="\/groups\/[0-9a-f]{32}\/members\/(\d+)\/ban"/g)].map((m) => m[1] as string))];
}
