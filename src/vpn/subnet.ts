import type { Result } from '../overlay/result.js';
import { formatIpv4, parseIpv4 } from './packets/addresses.js';

/**
 * The group's virtual IPv4 subnet (default 10.254.0.0/16). Its lowest host address is the virtual
 * services address (DHCP server, DNS, full-tunnel gateway), e.g. 10.254.0.1.
 */
export interface Ipv4Subnet {
  readonly network: number;
  readonly prefixLength: number;
  readonly mask: number;
  readonly broadcast: number;
  readonly servicesAddress: number;
}

export const DEFAULT_SUBNET_CIDR = '10.254.0.0/16';
/** /8 .. /30: a /31 or /32 leaves no room for the services address and a member. */
const MIN_PREFIX = 8;
const MAX_PREFIX = 30;

export interface SubnetError {
  readonly code: 'bad-subnet';
  readonly message: string;
}

export function subnetFromPrefix(network: number, prefixLength: number): Ipv4Subnet {
  const mask = prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
  const base = (network & mask) >>> 0;
  return { network: base, prefixLength, mask, broadcast: (base | ~mask) >>> 0, servicesAddress: (base + 1) >>> 0 };
}

/** Parses "10.254.0.0/16". The address must be the network address itself (no host bits set). */
export function parseSubnet(cidr: string): Result<Ipv4Subnet, SubnetError> {
  const bad = (why: string): { ok: false; error: SubnetError } => ({
    ok: false,
    error: { code: 'bad-subnet', message: `"${cidr}" is not a usable subnet: ${why}. Write it like ${DEFAULT_SUBNET_CIDR}.` },
  });
  const [addressText, prefixText, extra] = cidr.trim().split('/');
  if (addressText === undefined || prefixText === undefined || extra !== undefined) return bad('it needs one address and one prefix length');
  const address = parseIpv4(addressText);
  if (address === undefined) return bad('the address is not an IPv4 address');
  if (!/^[0-9]{1,2}$/.test(prefixText)) return bad('the prefix length is not a number');
  const prefixLength = Number(prefixText);
  if (prefixLength < MIN_PREFIX || prefixLength > MAX_PREFIX) return bad(`the prefix length must be from ${MIN_PREFIX} to ${MAX_PREFIX}`);
  const subnet = subnetFromPrefix(address, prefixLength);
  if (subnet.network !== address) return bad(`host bits are set (the network address is ${formatIpv4(subnet.network)})`);
  return { ok: true, value: subnet };
}

export function subnetContains(subnet: Ipv4Subnet, address: number): boolean {
  return ((address & subnet.mask) >>> 0) === subnet.network;
}

/** Inside the subnet and neither its network nor its broadcast address. */
export function isSubnetHost(subnet: Ipv4Subnet, address: number): boolean {
  return subnetContains(subnet, address) && address !== subnet.network && address !== subnet.broadcast;
}

export function formatSubnet(subnet: Ipv4Subnet): string {
  return `${formatIpv4(subnet.network)}/${subnet.prefixLength}`;
}
