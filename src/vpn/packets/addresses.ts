/**
 * IPv4 addresses as unsigned 32-bit numbers and MAC addresses as 6-byte arrays, with text forms.
 */

export const IPV4_ANY = 0;
export const IPV4_BROADCAST = 0xffff_ffff;

/** "10.254.0.1" -> 0x0afe0001; undefined if the text is not a dotted-quad IPv4 address. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value >>> 0;
}

export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

export function isMulticastIpv4(address: number): boolean {
  return address >>> 28 === 0xe;
}

export const MAC_BYTES = 6;
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** "02:00:5e:10:00:01" (or with dashes) -> 6 bytes; undefined if malformed. */
export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== MAC_BYTES || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, MAC_BYTES), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length < MAC_BYTES || b.length < MAC_BYTES) return false;
  for (let i = 0; i < MAC_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Group bit set: broadcast or multicast. */
export function isGroupMac(mac: Uint8Array): boolean {
  return ((mac[0] ?? 0) & 1) === 1;
}

export function isBroadcastMac(mac: Uint8Array): boolean {
  return macEquals(mac, BROADCAST_MAC);
}

/** A locally administered unicast MAC made from 5 bytes of the caller's choosing (e.g. random or hashed). */
export function localUnicastMac(five: Uint8Array): Uint8Array {
  return Uint8Array.from([0x02, five[0] ?? 0, five[1] ?? 0, five[2] ?? 0, five[3] ?? 0, five[4] ?? 0]);
}
