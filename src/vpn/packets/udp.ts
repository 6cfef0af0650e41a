import { readU16, writeU16 } from './bytes.js';
import { internetChecksum, pseudoHeaderSum } from './checksum.js';
import { type PacketResult, packetError } from './errors.js';
import { IpProtocol } from './ipv4.js';

/**
 * UDP header (RFC 768); the checksum covers the IPv4 pseudo-header.
 *
 *  0               16              32
 *  +---------------+---------------+
 *  | source port   | dest. port    |
 *  | length        | checksum      |   checksum 0 = none was computed
 *  +---------------+---------------+
 *  | payload ...
 */
export const UDP_HEADER_BYTES = 8;

export interface UdpDatagram {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly length: number;
  readonly checksum: number;
  /** A view of the payload, [8, length). */
  readonly payload: Uint8Array;
}

/**
 * Decodes the payload of an IPv4 packet as UDP. `source` and `destination` are the IPv4 addresses
 * the pseudo-header checksum covers; a zero checksum means "not computed" and is accepted.
 */
export function decodeUdp(bytes: Uint8Array, source: number, destination: number, verifyChecksum = true): PacketResult<UdpDatagram> {
  if (bytes.length < UDP_HEADER_BYTES) return packetError('too-short', `A UDP header needs 8 bytes; got ${bytes.length}.`);
  const length = readU16(bytes, 4);
  if (length < UDP_HEADER_BYTES) return packetError('bad-length', `The UDP length ${length} is under 8.`);
  if (length > bytes.length) return packetError('bad-length', `The UDP length ${length} is longer than the ${bytes.length} bytes that arrived.`);
  const checksum = readU16(bytes, 6);
  if (verifyChecksum && checksum !== 0) {
    if (internetChecksum(bytes, 0, length, pseudoHeaderSum(source, destination, IpProtocol.UDP, length)) !== 0) {
      return packetError('bad-checksum', 'The UDP checksum is wrong.');
    }
  }
  return {
    ok: true,
    value: {
      sourcePort: readU16(bytes, 0),
      destinationPort: readU16(bytes, 2),
      length,
      checksum,
      payload: bytes.subarray(UDP_HEADER_BYTES, length),
    },
  };
}

/** Writes a UDP datagram with its checksum into `out` at `at`; returns its length. */
export function writeUdp(
  out: Uint8Array,
  at: number,
  source: number,
  destination: number,
  sourcePort: number,
  destinationPort: number,
  payload: Uint8Array,
): number {
  const length = UDP_HEADER_BYTES + payload.length;
  if (length > 0xffff) throw new RangeError(`A UDP datagram cannot hold ${payload.length} bytes.`);
  writeU16(out, at, sourcePort);
  writeU16(out, at + 2, destinationPort);
  writeU16(out, at + 4, length);
  writeU16(out, at + 6, 0);
  out.set(payload, at + UDP_HEADER_BYTES);
  const checksum = internetChecksum(out, at, at + length, pseudoHeaderSum(source, destination, IpProtocol.UDP, length));
  // A computed 0 is sent as 0xffff: 0 on the wire means "no checksum".
  writeU16(out, at + 6, checksum === 0 ? 0xffff : checksum);
  return length;
}

export function encodeUdp(source: number, destination: number, sourcePort: number, destinationPort: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(UDP_HEADER_BYTES + payload.length);
  writeUdp(out, 0, source, destination, sourcePort, destinationPort, payload);
  return out;
}
