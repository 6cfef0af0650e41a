import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatJoinCode, isEndpoint, parseJoinCode } from '../../src/groups/api-protocol.js';
import { GroupError } from '../../src/groups/errors.js';
import { type Invitation, formatInvitationFile, formatInvitationLink, parseInvitation } from '../../src/groups/invitation.js';
import { readKeyFile, writeKeyFile } from '../../src/groups/secret-file.js';
import { parseGroupServerArgs, UsageError } from '../../src/group-server/options.js';
import { makeTempDir } from './server-fixture.js';

const sample: Invitation = {
  serverUrl: 'https://vpn.example.org:8443',
  groupId: '0123456789abcdef0123456789abcdef',
  fingerprint: 'ab'.repeat(32),
  token: 'Tok3n_with-enough-chars',
  caPublicKey: 'A'.repeat(43),
};

test('invitations round-trip as a link, as a file with comments, and as JSON', () => {
  const link = formatInvitationLink(sample);
  assert.match(link, /^ringvpn:\/\/join\?server=https%3A%2F%2Fvpn\.example\.org%3A8443&group=/);
  assert.deepEqual(parseInvitation(link), { ok: true, value: sample });
  assert.deepEqual(parseInvitation(`\n  ${link}  \n`), { ok: true, value: sample });
  assert.deepEqual(parseInvitation(formatInvitationFile(sample, 'Home\nnet')), { ok: true, value: sample });
  assert.deepEqual(parseInvitation(JSON.stringify(sample)), { ok: true, value: sample });
  const colons = parseInvitation(link.replace(sample.fingerprint as string, ('AB:'.repeat(32)).slice(0, -1)));
  assert.ok(colons.ok && colons.value.fingerprint === sample.fingerprint);
});

test('damaged or unsafe invitations are refused in plain words', () => {
  const link = formatInvitationLink(sample);
  const refused = (text: string, pattern: RegExp) => {
    const r = parseInvitation(text);
    assert.ok(!r.ok, text);
    assert.match(r.error, pattern);
  };
  refused('', /not a RingVPN invitation/);
  refused('https://example.org', /not a RingVPN invitation/);
  refused(link.replace('https%3A', 'http%3A'), /https/);
  refused(link.replace(/group=[0-9a-f]+/, 'group=xyz'), /group id/);
  refused(link.replace(/fp=[0-9a-f]+/, 'fp=1234'), /fingerprint/);
  refused(link.replace(/token=[^&]+/, 'token=a'), /token/);
  refused(link.replace(/&token=[^&]+/, ''), /incomplete/);
  refused(`${link}&group=${sample.groupId}`, /appears twice/);
  refused('{"serverUrl": 1', /damaged/);
  refused('x'.repeat(5000), /too long/);
  refused(link.replace('vpn.example.org', 'user%40vpn.example.org'), /user/);
  // Plain HTTP only for a server on this machine (tests, local proxies).
  assert.ok(parseInvitation(formatInvitationLink({ ...sample, serverUrl: 'http://127.0.0.1:8080', fingerprint: null })).ok);
});

test('join codes, endpoints and the command line', () => {
  const code = formatJoinCode('f'.repeat(32), 'S'.repeat(43));
  assert.deepEqual(parseJoinCode(` ${code}\n`), { requestId: 'f'.repeat(32), secret: 'S'.repeat(43) });
  assert.equal(parseJoinCode('rvj1.short.code'), null);
  for (const e of ['192.0.2.7:4500', '[2001:db8::1]:4500', '[::1]:1']) assert.ok(isEndpoint(e), e);
  for (const e of ['192.0.2.7', '300.1.1.1:5', '1.2.3.4:0', '1.2.3.4:70000', 'host:80', '[zz]:1', `${'1'.repeat(70)}:1`]) assert.ok(!isEndpoint(e), e);

  const o = parseGroupServerArgs(['--data', '/tmp/x', '--port', '8443', '--http', '--smtp-url', 'smtp://127.0.0.1:25', '--public-url', 'https://a.example']);
  assert.ok(o !== 'help');
  assert.equal(o.port, 8443);
  assert.equal(o.http, true);
  assert.equal(o.host, '127.0.0.1');
  assert.equal(o.publicUrl, 'https://a.example');
  assert.equal(parseGroupServerArgs(['--help']), 'help');
  for (const bad of [[], ['--data', 'd'], ['--data', 'd', '--port', 'x'], ['--data', 'd', '--port', '1', '--bogus'], ['--data', 'd', '--port', '1', '--smtp-url', 'mail']]) {
    assert.throws(() => parseGroupServerArgs(bad), UsageError);
  }
});

test('key files are written 0600 and refused when others can read them', () => {
  const temp = makeTempDir('keyfile');
  try {
    const path = join(temp.path, 'sub', 'node.key');
    const seed = new Uint8Array(32).fill(7);
    writeKeyFile(path, seed);
    assert.deepEqual(readKeyFile(path), seed);
    chmodSync(path, 0o644);
    assert.throws(() => readKeyFile(path), (e: unknown) => e instanceof GroupError && /chmod 600/.test(e.message));
    writeFileSync(path, 'not json', { mode: 0o600 });
    chmodSync(path, 0o600);
    assert.throws(() => readKeyFile(path), (e: unknown) => e instanceof GroupError && e.code === 'key-file-corrupt');
  } finally {
    temp.remove();
  }
});
