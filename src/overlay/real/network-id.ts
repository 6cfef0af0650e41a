import { blake2b } from '../crypto.js';

/** The public ring's name: nodes started without --network join it. */
export const PUBLIC_NETWORK_NAME = 'ringvpn-public';
const NETWORK_ID_BYTES = 16;
const DOMAIN = 'ringvpn-network-id-v1:';

/** 16-byte overlay id from a network name (BLAKE2b-128 with a domain label). Needs cryptoReady(). */
export function networkIdFromName(name: string): Uint8Array {
  return blake2b(NETWORK_ID_BYTES, new TextEncoder().encode(DOMAIN + name));
}

/** Network names: 1–64 printable characters without spaces. */
export function validNetworkName(name: string): boolean {
  return /^[\x21-\x7e]{1,64}$/.test(name);
}
