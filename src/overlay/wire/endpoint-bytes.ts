import type { Endpoint } from '../transport.js';
import type { ByteReader, ByteWriter } from './bytes.js';

/**
 * Endpoints on the wire:
 *
 *   +--------+------------------------+--------+
 *   | family | address                | port   |
 *   | 1      | 4 (family 4)           | 2      |
 *   |        | 16 (family 6)          |        |
 *   +--------+------------------------+--------+
 *   7 bytes for IPv4, 19 for IPv6; port 1..65535.
 *
 * Decoding yields the canonical text form: `a.b.c.d:port` and `[ipv6]:port`, where the IPv6 text is
 * exactly what libuv's inet_ntop (hence Node's dgram `rinfo.address`) prints: lowercase hex without
 * leading zeros, the first longest run of two or more zero groups written as `::`, and a dotted
 * IPv4 tail for `::a.b.c.d` and `::ffff:a.b.c.d`. So an endpoint learned from the wire and the same
 * endpoint seen on a socket are the same map key. parseEndpoint accepts every string produced here.
 *
 * Parsing and formatting are hand-written over char codes (no node:net, no regular expressions):
 * the simulator encodes and decodes tens of millions of endpoints.
 */

export const FAMILY_IPV4 = 4;
export const FAMILY_IPV6 = 6;
/** parseEndpoint's length limit. */
const MAX_ENDPOINT_TEXT = 64;

const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Scratch for IPv6 groups (encoding and decoding are synchronous, never re-entered). */
const groups = new Uint16Array(8);

/*
 * Endpoints repeat endlessly (the same peers are announced in every status message), so both
 * directions are memoised in bounded maps, emptied when full. Besides skipping the parse, the
 * decode cache hands out the same string object for the same endpoint, which makes the map
 * lookups callers do with it cheap (its hash is already computed). Measured on Node 20: an IPv4
 * endpoint decodes and is looked up in about 50 ns instead of 200 ns.
 */
const CACHE_MAX_ENTRIES = 16_384;
/** Endpoint text to its wire bytes (7 or 19). The arrays are never handed out, only copied. */
const wireByText = new Map<string, Uint8Array>();
/** IPv4 address * 65536 + port to endpoint text. */
const textByIpv4 = new Map<number, string>();
/** The 8 IPv6 groups and the port as a 9-code-unit string, to endpoint text. */
const textByIpv6 = new Map<string, string>();

function invalid(endpoint: unknown, what: string): TypeError {
  return new TypeError(`${what} is not a valid endpoint: ${JSON.stringify(endpoint)}`);
}

function remember<K, V>(cache: Map<K, V>, key: K, value: V): void {
  if (cache.size >= CACHE_MAX_ENTRIES) cache.clear();
  cache.set(key, value);
}

/** Writes family, address bytes and port. Throws a TypeError for anything parseEndpoint would reject. */
export function writeEndpoint(w: ByteWriter, endpoint: Endpoint, what: string): void {
  let wire = wireByText.get(endpoint);
  if (wire === undefined) {
    wire = endpointToWire(endpoint) ?? undefined;
    if (wire === undefined) throw invalid(endpoint, what);
    remember(wireByText, endpoint, wire);
  }
  w.fixed(wire, wire.length, what);
}

function endpointToWire(endpoint: unknown): Uint8Array | null {
  if (typeof endpoint !== 'string' || endpoint.length > MAX_ENDPOINT_TEXT) return null;
  if (endpoint.charCodeAt(0) === 0x5b /* [ */) {
    const close = endpoint.indexOf(']:');
    if (close < 0 || !parseIpv6(endpoint, 1, close)) return null;
    const port = parsePort(endpoint, close + 2);
    if (port < 0) return null;
    const wire = new Uint8Array(19);
    wire[0] = FAMILY_IPV6;
    for (let i = 0; i < 8; i++) {
      const group = groups[i] ?? 0;
      wire[1 + 2 * i] = group >>> 8;
      wire[2 + 2 * i] = group & 0xff;
    }
    wire[17] = port >>> 8;
    wire[18] = port & 0xff;
    return wire;
  }
  const colon = endpoint.lastIndexOf(':');
  if (colon < 0) return null;
  const ip = parseIpv4(endpoint, 0, colon);
  const port = parsePort(endpoint, colon + 1);
  if (ip < 0 || port < 0) return null;
  return Uint8Array.of(FAMILY_IPV4, ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff, port >>> 8, port & 0xff);
}

/** Reads an endpoint; on failure records the error in `r` and returns ''. */
export function readEndpoint(r: ByteReader, what: string): Endpoint {
  const family = r.u8(what);
  if (family === FAMILY_IPV4) {
    const ip = r.u32(what);
    const port = readPort(r, what);
    if (r.error !== null) return '';
    const key = ip * 65536 + port;
    let text = textByIpv4.get(key);
    if (text === undefined) {
      text = `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}:${port}`;
      remember(textByIpv4, key, text);
    }
    return text;
  }
  if (family === FAMILY_IPV6) {
    for (let i = 0; i < 8; i++) groups[i] = r.u16(what);
    const port = readPort(r, what);
    if (r.error !== null) return '';
    const g = groups;
    const key = String.fromCharCode(g[0]!, g[1]!, g[2]!, g[3]!, g[4]!, g[5]!, g[6]!, g[7]!, port);
    let text = textByIpv6.get(key);
    if (text === undefined) {
      text = `[${formatIpv6(groups)}]:${port}`;
      remember(textByIpv6, key, text);
    }
    return text;
  }
  if (r.error === null) r.fail('bad-value', `${what} has address family ${family}, expected 4 or 6`);
  return '';
}

function readPort(r: ByteReader, what: string): number {
  const port = r.u16(what);
  if (port === 0 && r.error === null) r.fail('bad-value', `${what} has port 0`);
  return port;
}

/** Dotted quad in text[start, end) with no leading zeros, as a u32; -1 when malformed. */
function parseIpv4(text: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (octets < 4) {
    const first = i;
    let octet = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      octet = octet * 10 + (c - ZERO);
      i++;
    }
    const digits = i - first;
    if (digits === 0 || digits > 3 || octet > 255 || (digits > 1 && text.charCodeAt(first) === ZERO)) return -1;
    value = value * 256 + octet;
    octets++;
    if (octets < 4) {
      if (i >= end || text.charCodeAt(i) !== DOT) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** 1..5 decimal digits from `start` to the end of the text, 1..65535; -1 when malformed. */
function parsePort(text: string, start: number): number {
  const digits = text.length - start;
  if (digits < 1 || digits > 5) return -1;
  let port = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) return -1;
    port = port * 10 + (c - ZERO);
  }
  return port >= 1 && port <= 65535 ? port : -1;
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * IPv6 text in text[start, end) into `groups`: 1..4 hex digits per group, at most one `::`
 * (standing for one or more zero groups), optionally a dotted IPv4 tail. False when malformed.
 */
function parseIpv6(text: string, start: number, end: number): boolean {
  let n = 0;
  let gap = -1;
  let i = start;
  if (end - start < 2) return false;
  if (text.charCodeAt(i) === COLON) {
    if (text.charCodeAt(i + 1) !== COLON) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    let j = i;
    let value = 0;
    let dotted = false;
    while (j < end) {
      const c = text.charCodeAt(j);
      if (c === COLON) break;
      if (c === DOT) dotted = true;
      j++;
    }
    if (dotted) {
      // The IPv4 tail must be the last part and fill groups 6 and 7.
      if (j !== end || n > 6) return false;
      const ip = parseIpv4(text, i, j);
      if (ip < 0) return false;
      groups[n++] = ip >>> 16;
      groups[n++] = ip & 0xffff;
      break;
    }
    const digits = j - i;
    if (digits < 1 || digits > 4 || n >= 8) return false;
    for (let k = i; k < j; k++) {
      const h = hexValue(text.charCodeAt(k));
      if (h < 0) return false;
      value = value * 16 + h;
    }
    groups[n++] = value;
    if (j === end) break;
    // text[j] is a colon.
    if (j + 1 < end && text.charCodeAt(j + 1) === COLON) {
      if (gap >= 0) return false;
      gap = n;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === end) return false; // a single trailing colon
    }
  }
  if (gap < 0) return n === 8;
  if (n > 7) return false; // `::` must stand for at least one group
  const tail = n - gap;
  for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k] ?? 0;
  for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  return true;
}

/** Formats 8 groups exactly as libuv's inet_ntop6 does (see the file comment). */
function formatIpv6(words: Uint16Array): string {
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase >= 0) {
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase >= 0 && curLen > bestLen) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestLen < 2) bestBase = -1;

  let text = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) text += ':';
      continue;
    }
    if (i !== 0) text += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      const w6 = words[6] ?? 0;
      const w7 = words[7] ?? 0;
      text += `${w6 >>> 8}.${w6 & 0xff}.${w7 >>> 8}.${w7 & 0xff}`;
      break;
    }
    text += (words[i] ?? 0).toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) text += ':';
  return text;
}
