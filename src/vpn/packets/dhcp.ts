import { MAC_BYTES } from './addresses.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { type PacketResult, packetError } from './errors.js';

/**
 * DHCP messages (RFC 2131) in BOOTP framing, with the options (RFC 2132) the virtual DHCP server uses.
 *
 *  0       8      16      24      32
 *  +-------+-------+-------+-------+
 *  |  op   | htype | hlen  | hops  |   op: 1 request (client), 2 reply (server)
 *  |              xid              |   transaction id chosen by the client
 *  |     secs      |     flags     |   flags: 0x8000 = reply by broadcast
 *  |            ciaddr             |   client's current address (renewing)
 *  |            yiaddr             |   "your" address: the one offered
 *  |            siaddr             |
 *  |            giaddr             |   relay agent
 *  |      chaddr (16 bytes)        |   client MAC in the first hlen bytes
 *  |      sname (64 bytes)         |
 *  |      file (128 bytes)         |
 *  |   magic cookie 63.82.53.63    |
 *  |   options: code, len, data... |   0 = pad, 255 = end
 *  +-------------------------------+
 */
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const FIXED_BYTES = 236;
const MAGIC_COOKIE = 0x63825363;
export const DHCP_MIN_BYTES = FIXED_BYTES + 4;
/** BOOTP replies are padded to this size: some clients ignore shorter ones (RFC 1542). */
const MIN_ENCODED_BYTES = 300;
/** Largest DHCP message accepted (the options area may not exceed a 1500-byte datagram by much). */
export const DHCP_MAX_BYTES = 1472;
const HTYPE_ETHERNET = 1;
const FLAG_BROADCAST = 0x8000;

export const BootpOp = {
  REQUEST: 1,
  REPLY: 2,
} as const;

export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

export const DhcpOption = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  INTERFACE_MTU: 26,
  BROADCAST_ADDRESS: 28,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;

export interface DhcpMessage {
  readonly op: number;
  readonly xid: number;
  readonly secs: number;
  readonly broadcast: boolean;
  readonly clientAddress: number;
  readonly yourAddress: number;
  readonly serverAddress: number;
  readonly relayAddress: number;
  /** The client's hardware address (6 bytes for Ethernet). */
  readonly clientMac: Uint8Array;
  readonly messageType: number;
  readonly requestedIp?: number;
  readonly serverId?: number;
  readonly leaseSeconds?: number;
  readonly subnetMask?: number;
  readonly routers?: readonly number[];
  readonly dnsServers?: readonly number[];
  readonly renewalSeconds?: number;
  readonly rebindingSeconds?: number;
  readonly interfaceMtu?: number;
  readonly message?: string;
  readonly hostName?: string;
  readonly parameterRequestList?: Uint8Array;
  readonly clientId?: Uint8Array;
}

/** Reads the 4-byte address options (a list); undefined when the length is not a positive multiple of 4. */
function addressList(data: Uint8Array): number[] | undefined {
  if (data.length === 0 || data.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 4) out.push(readU32(data, i));
  return out;
}

/** Parses the options area into code -> data (first occurrence wins). */
function parseOptions(bytes: Uint8Array, start: number): PacketResult<Map<number, Uint8Array>> {
  const options = new Map<number, Uint8Array>();
  let i = start;
  while (i < bytes.length) {
    const code = bytes[i] as number;
    if (code === DhcpOption.END) return { ok: true, value: options };
    if (code === DhcpOption.PAD) {
      i++;
      continue;
    }
    if (i + 1 >= bytes.length) return packetError('bad-option', `DHCP option ${code} is cut off.`);
    const length = bytes[i + 1] as number;
    if (i + 2 + length > bytes.length) return packetError('bad-option', `DHCP option ${code} runs past the end of the message.`);
    if (!options.has(code)) options.set(code, bytes.subarray(i + 2, i + 2 + length));
    i += 2 + length;
  }
  return packetError('bad-option', 'The DHCP options have no end marker.');
}

function fixedLength(data: Uint8Array | undefined, length: number, name: string): PacketResult<Uint8Array | undefined> {
  if (data === undefined) return { ok: true, value: undefined };
  if (data.length !== length) return packetError('bad-option', `The DHCP ${name} option must be ${length} bytes; got ${data.length}.`);
  return { ok: true, value: data };
}

const text = (data: Uint8Array | undefined): string | undefined =>
  data === undefined ? undefined : new TextDecoder('utf-8', { fatal: false }).decode(data).replace(/[^\x20-\x7e]/g, '?');

/** Decodes a DHCP message (the UDP payload). Only Ethernet hardware addresses are accepted. */
export function decodeDhcp(bytes: Uint8Array): PacketResult<DhcpMessage> {
  if (bytes.length < DHCP_MIN_BYTES) return packetError('too-short', `A DHCP message needs at least 240 bytes; got ${bytes.length}.`);
  if (bytes.length > DHCP_MAX_BYTES) return packetError('bad-length', `A DHCP message of ${bytes.length} bytes is too long.`);
  const op = bytes[0] as number;
  if (op !== BootpOp.REQUEST && op !== BootpOp.REPLY) return packetError('bad-value', `BOOTP op ${op} is neither request nor reply.`);
  if (bytes[1] !== HTYPE_ETHERNET || bytes[2] !== MAC_BYTES) return packetError('unsupported', 'Only Ethernet DHCP clients are supported.');
  if (readU32(bytes, FIXED_BYTES) !== MAGIC_COOKIE) return packetError('bad-value', 'The DHCP magic cookie is missing: a plain BOOTP message.');
  const parsed = parseOptions(bytes, DHCP_MIN_BYTES);
  if (!parsed.ok) return parsed;
  const options = parsed.value;
  const type = fixedLength(options.get(DhcpOption.MESSAGE_TYPE), 1, 'message type');
  if (!type.ok) return type;
  const messageType = type.value?.[0];
  if (messageType === undefined || messageType < DhcpMessageType.DISCOVER || messageType > DhcpMessageType.INFORM) {
    return packetError('bad-value', 'The DHCP message type is missing or unknown.');
  }
  const four = (code: number, name: string): PacketResult<number | undefined> => {
    const data = fixedLength(options.get(code), 4, name);
    if (!data.ok) return data;
    return { ok: true, value: data.value === undefined ? undefined : readU32(data.value, 0) };
  };
  const requestedIp = four(DhcpOption.REQUESTED_IP, 'requested address');
  if (!requestedIp.ok) return requestedIp;
  const serverId = four(DhcpOption.SERVER_ID, 'server identifier');
  if (!serverId.ok) return serverId;
  const lease = four(DhcpOption.LEASE_TIME, 'lease time');
  if (!lease.ok) return lease;
  const mask = four(DhcpOption.SUBNET_MASK, 'subnet mask');
  if (!mask.ok) return mask;
  const renewal = four(DhcpOption.RENEWAL_TIME, 'renewal time');
  if (!renewal.ok) return renewal;
  const rebinding = four(DhcpOption.REBINDING_TIME, 'rebinding time');
  if (!rebinding.ok) return rebinding;
  const mtu = fixedLength(options.get(DhcpOption.INTERFACE_MTU), 2, 'interface MTU');
  if (!mtu.ok) return mtu;
  const routersData = options.get(DhcpOption.ROUTER);
  const routers = routersData === undefined ? undefined : addressList(routersData);
  if (routersData !== undefined && routers === undefined) return packetError('bad-option', 'The DHCP router option is malformed.');
  const dnsData = options.get(DhcpOption.DNS_SERVERS);
  const dnsServers = dnsData === undefined ? undefined : addressList(dnsData);
  if (dnsData !== undefined && dnsServers === undefined) return packetError('bad-option', 'The DHCP DNS servers option is malformed.');
  const message: DhcpMessage = {
    op,
    xid: readU32(bytes, 4),
    secs: readU16(bytes, 8),
    broadcast: (readU16(bytes, 10) & FLAG_BROADCAST) !== 0,
    clientAddress: readU32(bytes, 12),
    yourAddress: readU32(bytes, 16),
    serverAddress: readU32(bytes, 20),
    relayAddress: readU32(bytes, 24),
    clientMac: bytes.subarray(28, 28 + MAC_BYTES),
    messageType,
    requestedIp: requestedIp.value,
    serverId: serverId.value,
    leaseSeconds: lease.value,
    subnetMask: mask.value,
    routers,
    dnsServers,
    renewalSeconds: renewal.value,
    rebindingSeconds: rebinding.value,
    interfaceMtu: mtu.value === undefined ? undefined : readU16(mtu.value, 0),
    message: text(options.get(DhcpOption.MESSAGE)),
    hostName: text(options.get(DhcpOption.HOST_NAME)),
    parameterRequestList: options.get(DhcpOption.PARAMETER_REQUEST_LIST),
    clientId: options.get(DhcpOption.CLIENT_ID),
  };
  return { ok: true, value: message };
}

/** The fields a new message needs; options left undefined are not sent. */
export type DhcpMessageInit = Omit<DhcpMessage, 'secs' | 'serverAddress' | 'relayAddress'> & {
  readonly secs?: number;
  readonly serverAddress?: number;
  readonly relayAddress?: number;
};

class OptionWriter {
  readonly parts: number[] = [];

  add(code: number, data: Uint8Array | number[]): void {
    if (data.length > 255) throw new RangeError(`DHCP option ${code} is too long.`);
    this.parts.push(code, data.length, ...data);
  }

  u32(code: number, value: number | undefined): void {
    if (value === undefined) return;
    const b = new Uint8Array(4);
    writeU32(b, 0, value);
    this.add(code, b);
  }

  addresses(code: number, values: readonly number[] | undefined): void {
    if (values === undefined || values.length === 0) return;
    const b = new Uint8Array(4 * values.length);
    values.forEach((v, i) => writeU32(b, 4 * i, v));
    this.add(code, b);
  }
}

/** Encodes a DHCP message; options in the usual order, message type first. Throws on values out of range (our own data). */
export function encodeDhcp(m: DhcpMessageInit): Uint8Array {
  if (m.clientMac.length !== MAC_BYTES) throw new RangeError('The client MAC must be 6 bytes.');
  const options = new OptionWriter();
  options.add(DhcpOption.MESSAGE_TYPE, [m.messageType]);
  options.u32(DhcpOption.SERVER_ID, m.serverId);
  options.u32(DhcpOption.REQUESTED_IP, m.requestedIp);
  options.u32(DhcpOption.LEASE_TIME, m.leaseSeconds);
  options.u32(DhcpOption.RENEWAL_TIME, m.renewalSeconds);
  options.u32(DhcpOption.REBINDING_TIME, m.rebindingSeconds);
  options.u32(DhcpOption.SUBNET_MASK, m.subnetMask);
  options.addresses(DhcpOption.ROUTER, m.routers);
  options.addresses(DhcpOption.DNS_SERVERS, m.dnsServers);
  if (m.interfaceMtu !== undefined) options.add(DhcpOption.INTERFACE_MTU, [m.interfaceMtu >>> 8, m.interfaceMtu & 0xff]);
  if (m.hostName !== undefined) options.add(DhcpOption.HOST_NAME, new TextEncoder().encode(m.hostName));
  if (m.message !== undefined) options.add(DhcpOption.MESSAGE, new TextEncoder().encode(m.message));
  if (m.parameterRequestList !== undefined) options.add(DhcpOption.PARAMETER_REQUEST_LIST, m.parameterRequestList);
  if (m.clientId !== undefined) options.add(DhcpOption.CLIENT_ID, m.clientId);
  options.parts.push(DhcpOption.END);
  const out = new Uint8Array(Math.max(MIN_ENCODED_BYTES, DHCP_MIN_BYTES + options.parts.length));
  out[0] = m.op;
  out[1] = HTYPE_ETHERNET;
  out[2] = MAC_BYTES;
  writeU32(out, 4, m.xid);
  writeU16(out, 8, m.secs ?? 0);
  writeU16(out, 10, m.broadcast ? FLAG_BROADCAST : 0);
  writeU32(out, 12, m.clientAddress);
  writeU32(out, 16, m.yourAddress);
  writeU32(out, 20, m.serverAddress ?? 0);
  writeU32(out, 24, m.relayAddress ?? 0);
  out.set(m.clientMac, 28);
  writeU32(out, FIXED_BYTES, MAGIC_COOKIE);
  out.set(options.parts, DHCP_MIN_BYTES);
  return out;
}
