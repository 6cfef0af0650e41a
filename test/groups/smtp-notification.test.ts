import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { GroupServer } from '../../src/group-server/app.js';
import { API_PREFIX } from '../../src/groups/api-protocol.js';
import { createGroupThroughWeb, makeTempDir, startTestServer } from './server-fixture.js';
import { postJson } from './web-session.js';

interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
}

const temp = makeTempDir('smtp');
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  temp.remove();
});

/** A real SMTP receiver on loopback that keeps what it is sent. */
async function startSmtpReceiver(): Promise<{ port: number; mails: ReceivedMail[]; next: () => Promise<ReceivedMail> }> {
  const mails: ReceivedMail[] = [];
  const waiters: ((m: ReceivedMail) => void)[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mail = {
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        };
        mails.push(mail);
        waiters.shift()?.(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
  const address = smtp.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    mails,
    next: () =>
      new Promise<ReceivedMail>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no e-mail arrived within 5 s')), 5_000);
        waiters.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      }),
  };
}

test('admins get an e-mail over SMTP for each new join request, and the request is in the queue', async () => {
  const smtp = await startSmtpReceiver();
  const server: GroupServer = await startTestServer(join(temp.path, 'server'), {
    smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
    smtpFrom: 'ringvpn@example.org',
    publicUrl: 'https://vpn.example.org:8443',
  });
  cleanups.push(() => server.close());
  const group = await createGroupThroughWeb(server, 'Mail group', 'mailadmin');
  const arrival = smtp.next();
  const res = await postJson(`${server.url}${API_PREFIX}/groups/${group.groupId}/join-requests`, {
    inviteToken: group.invitation.token,
    name: 'Frank <frank>',
    email: 'frank@example.org',
    acceptTerms: true,
  });
  assert.equal(res.status, 201);
  const mail = await arrival;
  assert.deepEqual(mail.to, ['mailadmin@example.org']);
  assert.equal(mail.from, 'ringvpn@example.org');
  assert.match(mail.data, /Subject: RingVPN: Frank <frank> asks to join Mail group/);
  const body = mail.data.replace(/=\r\n/g, ''); // quoted-printable soft line breaks
  assert.match(body, new RegExp(`https://vpn\\.example\\.org:8443/groups/${group.groupId}/requests`));
  assert.doesNotMatch(mail.data, new RegExp(res.json.secret as string), 'the one-time secret is never mailed');
  assert.equal(server.publicUrl, 'https://vpn.example.org:8443');
  assert.match(group.invitationLink, /server=https%3A%2F%2Fvpn\.example\.org%3A8443/);
  const queue = await group.admin.get(`/groups/${group.groupId}/requests`);
  assert.match(queue.text, /Frank &#60;frank&#62;/);
});

test('an unreachable SMTP server only costs a log line: joining still works', async () => {
  const server = await startTestServer(join(temp.path, 'server2'), { smtpUrl: 'smtp://127.0.0.1:1' });
  cleanups.push(() => server.close());
  const group = await createGroupThroughWeb(server, 'No mail', 'nomail');
  const res = await postJson(`${server.url}${API_PREFIX}/groups/${group.groupId}/join-requests`, {
    inviteToken: group.invitation.token,
    name: 'Gina',
    email: 'gina@example.org',
    acceptTerms: true,
  });
  assert.equal(res.status, 201);
});
