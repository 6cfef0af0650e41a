import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clampTcpMss, mssForMtu } from '../../src/vpn/mss-clamp.js';
import { parseIpv4 } from '../../src/vpn/packets/addresses.js';
import { readU16, writeU16 } from '../../src/vpn/packets/bytes.js';
import { internetChecksum, pseudoHeaderSum } from '../../src/vpn/packets/checksum.js';
import { IpProtocol, decodeIpv4, encodeIpv4 } from '../../src/vpn/packets/ipv4.js';
import { TcpFlag } from '../../src/vpn/packets/tcp.js';
import { ICMP_ECHO_TO_10_254_0_7, TCP_SYN_TO_10_254_0_7_PORT_80 } from './vpn-fixtures.js';

const SRC = parseIpv4('10.254.0.2') as number;
const DST = parseIpv4('10.254.0.7') as number;

/** The full TCP checksum of an IPv4 packet verifies (pseudo-header included). */
function tcpChecksumValid(packet: Uint8Array): boolean {
  const p = decodeIpv4(packet);
  assert.ok(p.ok);
  const { header, payload } = p.value;
  return internetChecksum(payload, 0, payload.length, pseudoHeaderSum(header.source, header.destination, IpProtocol.TCP, payload.length)) === 0;
}

/** A TCP segment with the given flags and options (padded to a multiple of 4), checksummed, inside IPv4. */
function tcpPacket(flags: number, options: number[], body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const padded = [...options];
  while (padded.length % 4 !== 0) padded.push(0);
  const headerLength = 20 + padded.length;
  const segment = new Uint8Array(headerLength + body.length);
  writeU16(segment, 0, 40000);
  writeU16(segment, 2, 443);
  segment[12] = (headerLength / 4) << 4;
  segment[13] = flags;
  writeU16(segment, 14, 64240);
  segment.set(padded, 20);
  segment.set(body, headerLength);
  writeU16(segment, 16, internetChecksum(segment, 0, segment.length, pseudoHeaderSum(SRC, DST, IpProtocol.TCP, segment.length)));
  return encodeIpv4({ source: SRC, destination: DST, protocol: IpProtocol.TCP }, segment);
}

const mssOf = (packet: Uint8Array, optionOffset: number): number => readU16(packet, 20 + 20 + optionOffset + 2);

test('mssForMtu leaves room for the IPv4 and TCP headers', () => {
  assert.equal(mssForMtu(1500), 1460);
  assert.equal(mssForMtu(1380), 1340);
  assert.equal(mssForMtu(30), 0);
});

test("the kernel's real SYN is clamped from 1460 to 1340 and its checksum still verifies", () => {
  const frame = TCP_SYN_TO_10_254_0_7_PORT_80();
  const packet = frame.subarray(14);
  assert.ok(tcpChecksumValid(packet));
  assert.deepEqual(clampTcpMss(packet, 1340), { kind: 'clamped', from: 1460, to: 1340 });
  assert.equal(mssOf(packet, 0), 1340);
  assert.ok(tcpChecksumValid(packet), 'checksum fixed incrementally');
  assert.ok(decodeIpv4(packet).ok, 'IPv4 header untouched');
  assert.deepEqual(clampTcpMss(packet, 1340), { kind: 'unchanged', reason: 'small-enough' });
  assert.deepEqual(clampTcpMss(packet, 1400), { kind: 'unchanged', reason: 'small-enough' });
});

test('an MSS option at an odd offset is clamped with a correct checksum', () => {
  // NOP then MSS: the MSS value starts at an odd byte of the segment.
  const packet = tcpPacket(TcpFlag.SYN | TcpFlag.ACK, [1, 2, 4, 0x05, 0xb4, 1, 1, 1]);
  assert.ok(tcpChecksumValid(packet));
  assert.deepEqual(clampTcpMss(packet, 1200), { kind: 'clamped', from: 1460, to: 1200 });
  assert.equal(mssOf(packet, 1), 1200);
  assert.ok(tcpChecksumValid(packet));
});

test('left alone: non-SYN, no MSS option, non-TCP, later fragments, malformed options and headers', () => {
  assert.deepEqual(clampTcpMss(tcpPacket(TcpFlag.ACK, [2, 4, 5, 0xb4]), 1000), { kind: 'unchanged', reason: 'not-syn' });
  assert.deepEqual(clampTcpMss(tcpPacket(TcpFlag.SYN, [1, 1, 4, 2]), 1000), { kind: 'unchanged', reason: 'no-mss-option' });
  assert.deepEqual(clampTcpMss(ICMP_ECHO_TO_10_254_0_7().subarray(14), 1000), { kind: 'unchanged', reason: 'not-tcp' });
  assert.deepEqual(clampTcpMss(tcpPacket(TcpFlag.SYN, [2, 9, 5, 0xb4]), 1000), { kind: 'unchanged', reason: 'malformed' });
  assert.deepEqual(clampTcpMss(tcpPacket(TcpFlag.SYN, [2, 3, 5, 0xb4]), 1000), { kind: 'unchanged', reason: 'malformed' });
  const fragment = tcpPacket(TcpFlag.SYN, [2, 4, 5, 0xb4]);
  fragment[7] = 10;
  assert.deepEqual(clampTcpMss(fragment, 1000), { kind: 'unchanged', reason: 'fragment' });
  assert.deepEqual(clampTcpMss(new Uint8Array(30), 1000), { kind: 'unchanged', reason: 'malformed' });
  const cut = tcpPacket(TcpFlag.SYN, [2, 4, 5, 0xb4]);
  assert.deepEqual(clampTcpMss(cut.subarray(0, 30), 1000), { kind: 'unchanged', reason: 'malformed' });
});

test('property: for any SYN with any option layout and payload, the clamped checksum equals a full recomputation', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 33 }),
      (nops, mss, limit, body) => {
        const options = [...new Array<number>(nops).fill(1), 2, 4, mss >>> 8, mss & 0xff];
        const packet = tcpPacket(TcpFlag.SYN, options, body);
        const out = clampTcpMss(packet, limit);
        if (mss > limit) {
          assert.deepEqual(out, { kind: 'clamped', from: mss, to: limit });
          assert.equal(mssOf(packet, nops), limit);
        } else {
          assert.deepEqual(out, { kind: 'unchanged', reason: 'small-enough' });
        }
        assert.ok(tcpChecksumValid(packet));
      },
    ),
    { numRuns: 3000, seed: 5 },
  );
});
