import { MAC_BYTES } from './addresses.js';
import { readU16, writeU16 } from './bytes.js';
import { type PacketResult, packetError } from './errors.js';

/**
 * Ethernet II header, as a TAP device (IFF_NO_PI) hands it over; no preamble, no FCS.
 *
 *  0                   6                  12       14
 *  +-------------------+-------------------+--------+--------------
 *  | destination MAC   | source MAC        | type   | payload ...
 *  +-------------------+-------------------+--------+--------------
 */
export const ETHERNET_HEADER_BYTES = 14;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
} as const;

/** Type/length values below this are IEEE 802.3 lengths, not EtherTypes. */
export const MIN_ETHERTYPE = 0x0600;

export interface EthernetHeader {
  /** Views into the frame: copy them before the frame's buffer is reused. */
  readonly destination: Uint8Array;
  readonly source: Uint8Array;
  readonly etherType: number;
  /** The bytes after the header (a view; may include padding after an IPv4 packet). */
  readonly payload: Uint8Array;
}

export function decodeEthernet(frame: Uint8Array): PacketResult<EthernetHeader> {
  if (frame.length < ETHERNET_HEADER_BYTES) {
    return packetError('too-short', `An Ethernet frame needs at least 14 bytes; got ${frame.length}.`);
  }
  return {
    ok: true,
    value: {
      destination: frame.subarray(0, MAC_BYTES),
      source: frame.subarray(MAC_BYTES, 2 * MAC_BYTES),
      etherType: readU16(frame, 12),
      payload: frame.subarray(ETHERNET_HEADER_BYTES),
    },
  };
}

/** A new frame: header followed by a copy of the payload. */
export function encodeEthernet(destination: Uint8Array, source: Uint8Array, etherType: number, payload: Uint8Array): Uint8Array {
  if (destination.length !== MAC_BYTES || source.length !== MAC_BYTES) throw new RangeError('MAC addresses are 6 bytes.');
  const frame = new Uint8Array(ETHERNET_HEADER_BYTES + payload.length);
  frame.set(destination, 0);
  frame.set(source, MAC_BYTES);
  writeU16(frame, 12, etherType);
  frame.set(payload, ETHERNET_HEADER_BYTES);
  return frame;
}
