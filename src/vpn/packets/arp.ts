import { MAC_BYTES } from './addresses.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { type PacketResult, packetError } from './errors.js';
import { EtherType } from './ethernet.js';

/**
 * ARP for IPv4 over Ethernet (RFC 826), the only kind a TAP device speaks.
 *
 *  0        2        4    5    6        8             14       18            24       28
 *  +--------+--------+----+----+--------+-------------+--------+-------------+--------+
 *  | htype  | ptype  |hlen|plen| oper   | sender MAC  | sender | target MAC  | target |
 *  | = 1    | =0x800 | =6 | =4 |        |             | IPv4   |             | IPv4   |
 *  +--------+--------+----+----+--------+-------------+--------+-------------+--------+
 */
export const ARP_BYTES = 28;
const HTYPE_ETHERNET = 1;

export const ArpOperation = {
  REQUEST: 1,
  REPLY: 2,
} as const;

export interface ArpPacket {
  readonly operation: number;
  readonly senderMac: Uint8Array;
  readonly senderIp: number;
  readonly targetMac: Uint8Array;
  readonly targetIp: number;
}

/** Decodes the payload of an ARP frame (trailing padding allowed). MACs are views into `bytes`. */
export function decodeArp(bytes: Uint8Array): PacketResult<ArpPacket> {
  if (bytes.length < ARP_BYTES) return packetError('too-short', `An ARP packet needs 28 bytes; got ${bytes.length}.`);
  if (readU16(bytes, 0) !== HTYPE_ETHERNET || readU16(bytes, 2) !== EtherType.IPV4 || bytes[4] !== MAC_BYTES || bytes[5] !== 4) {
    return packetError('unsupported', 'Only ARP for IPv4 over Ethernet is supported.');
  }
  const operation = readU16(bytes, 6);
  if (operation !== ArpOperation.REQUEST && operation !== ArpOperation.REPLY) {
    return packetError('unsupported', `ARP operation ${operation} is neither a request nor a reply.`);
  }
  return {
    ok: true,
    value: {
      operation,
      senderMac: bytes.subarray(8, 14),
      senderIp: readU32(bytes, 14),
      targetMac: bytes.subarray(18, 24),
      targetIp: readU32(bytes, 24),
    },
  };
}

export function encodeArp(packet: ArpPacket): Uint8Array {
  if (packet.senderMac.length !== MAC_BYTES || packet.targetMac.length !== MAC_BYTES) throw new RangeError('MAC addresses are 6 bytes.');
  const out = new Uint8Array(ARP_BYTES);
  writeU16(out, 0, HTYPE_ETHERNET);
  writeU16(out, 2, EtherType.IPV4);
  out[4] = MAC_BYTES;
  out[5] = 4;
  writeU16(out, 6, packet.operation);
  out.set(packet.senderMac, 8);
  writeU32(out, 14, packet.senderIp);
  out.set(packet.targetMac, 18);
  writeU32(out, 24, packet.targetIp);
  return out;
}
