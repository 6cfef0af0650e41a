import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIpv4 } from '../../src/vpn/packets/addresses.js';
import { DEFAULT_TAP_NAME, VpnConfigError, readConfigFile, resolveSettings } from '../../src/vpn/vpn-config.js';
import { TUNNEL_MTU, WORST_CASE_OVERHEAD } from '../../src/vpn/vpn-mtu.js';

test('settings: defaults, the config file, and flags over the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rv-config-'));
  try {
    const file = join(dir, 'vpn.json');
    writeFileSync(file, JSON.stringify({ network: 'office', port: 4200, bootstrap: ['203.0.113.7:4100', '203.0.113.8:4100'], subnet: '10.20.0.0/16', vip: '10.20.0.9', tap: 'office0' }));
    const fromFile = resolveSettings({}, readConfigFile(file), '/var/lib/ringvpn');
    assert.equal(fromFile.network, 'office');
    assert.equal(fromFile.port, 4200);
    assert.deepEqual(fromFile.bootstraps, ['203.0.113.7:4100', '203.0.113.8:4100']);
    assert.equal(fromFile.vip, parseIpv4('10.20.0.9'));
    assert.equal(fromFile.tap, 'office0');
    assert.equal(fromFile.stateDir, '/var/lib/ringvpn');
    const flagsWin = resolveSettings({ port: '4300', network: 'lab', bootstrap: ['198.51.100.1:1,198.51.100.2:2'] }, readConfigFile(file), '/x');
    assert.deepEqual([flagsWin.port, flagsWin.network, flagsWin.subnetCidr], [4300, 'lab', '10.20.0.0/16']);
    assert.deepEqual(flagsWin.bootstraps, ['198.51.100.1:1', '198.51.100.2:2']);
    const defaults = resolveSettings({}, {}, '/x');
    assert.deepEqual([defaults.subnetCidr, defaults.tap, defaults.vip], ['10.254.0.0/16', DEFAULT_TAP_NAME, undefined]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad settings are refused in plain words', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rv-config-'));
  try {
    const bad = (content: string): string => {
      const f = join(dir, 'bad.json');
      writeFileSync(f, content);
      try {
        resolveSettings({}, readConfigFile(f), '/x');
      } catch (error) {
        assert.ok(error instanceof VpnConfigError, String(error));
        return error.message;
      }
      assert.fail(`accepted ${content}`);
    };
    assert.match(bad('{'), /not valid JSON/);
    assert.match(bad('[1]'), /one JSON object/);
    assert.match(bad('{"colour": "blue"}'), /Unknown setting "colour"/);
    assert.match(bad('{"bootstrap": 7}'), /list of "host:port"/);
    assert.match(bad('{"port": "http"}'), /port must be a whole number/);
    assert.match(bad('{"port": 70000}'), /port must be a whole number/);
    assert.match(bad('{"subnet": "10.254.0.1/16"}'), /host bits are set/);
    assert.match(bad('{"vip": "10.254.0.1"}'), /lowest one \(reserved for services\)/);
    assert.match(bad('{"vip": "10.9.0.5"}'), /must be a host address of/);
    assert.match(bad('{"tap": "a/b"}'), /TAP device name/);
    assert.match(bad('{"network": "has space"}'), /network name/);
    assert.match(bad('{"logLevel": "loud"}'), /log level/);
    assert.throws(() => readConfigFile(join(dir, 'missing.json')), /Cannot read the config file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tunnel MTU leaves room for the worst case (relayed over IPv6) in a 1500-byte underlay', () => {
  assert.equal(WORST_CASE_OVERHEAD, 136);
  assert.equal(TUNNEL_MTU, 1360);
  assert.ok(TUNNEL_MTU + WORST_CASE_OVERHEAD <= 1500);
});
