/**
 * What a group admin does in the browser, as a small program the lab runs inside the group
 * server's namespace (it talks to the server on that namespace's loopback): create a group with the
 * web form (CSRF token and session cookie as a browser keeps them), approve every pending request,
 * ban a member by name. Prints one JSON line. Usage:
 *   groups-admin.ts create BASE_URL GROUP_NAME
 *   groups-admin.ts approve-all BASE_URL GROUP_ID
 *   groups-admin.ts ban BASE_URL GROUP_ID MEMBER_NAME
 */
import { WebSession, decodeEntities } from '../groups/web-session.js';

const USER = 'labadmin';
const PASSWORD = 'correct horse battery';

async function login(base: string): Promise<WebSession> {
  const admin = new WebSession(base);
  await admin.get('/login');
  const res = await admin.post('/login', { username: USER, password: PASSWORD });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return admin;
}

async function main(): Promise<unknown> {
  const [command, base, arg, extra] = process.argv.slice(2);
  if (base === undefined || arg === undefined) throw new Error('usage: create|approve-all|ban BASE_URL ...');
  switch (command) {
    case 'create': {
      const admin = new WebSession(base);
      await admin.get('/');
      const page = await admin.post('/groups', { groupName: arg, username: USER, email: 'admin@example.org', password: PASSWORD, terms: '' });
      const link = /aria-label="Invitation link">([^<]+)</.exec(page.text);
      const id = /\/groups\/([0-9a-f]{32})/.exec(page.text);
      if (page.status !== 200 || link === null || id === null) throw new Error(`group creation failed: ${page.status} ${page.text.slice(0, 300)}`);
      return { groupId: id[1], invitationLink: decodeEntities(link[1] as string) };
    }
    case 'approve-all': {
      const admin = await login(base);
      const queue = await admin.get(`/groups/${arg}/requests`);
      const ids = [...queue.text.matchAll(/action="\/groups\/[0-9a-f]{32}\/requests\/([0-9a-f]{32})\/approve"/g)].map((m) => m[1] as string);
      for (const id of ids) {
        const res = await admin.post(`/groups/${arg}/requests/${id}/approve`, {});
        if (res.status !== 200) throw new Error(`approving ${id} failed: ${res.status}`);
      }
      return { approved: ids.length };
    }
    case 'ban': {
      const admin = await login(base);
      const page = await admin.get(`/groups/${arg}/members`);
      const row = page.text.split('<tr>').find((r) => r.includes(`<td>${extra}</td>`));
      const memberId = row === undefined ? undefined : /\/members\/(\d+)\/ban"/.exec(row)?.[1];
      if (memberId === undefined) throw new Error(`no member named ${extra}`);
      const startedAt = Date.now();
      const res = await admin.post(`/groups/${arg}/members/${memberId}/ban`, {});
      const doneAt = Date.now();
      if (res.status !== 200 || !/Member banned/.test(res.text)) throw new Error(`ban failed: ${res.status}`);
      return { startedAt, doneAt };
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    process.stderr.write(`groups-admin: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
