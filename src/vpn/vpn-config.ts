import { readFileSync } from 'node:fs';
import { validNetworkName } from '../overlay/real/network-id.js';
import { isLogLevel } from '../overlay/real/stderr-logger.js';
import type { LogLevel } from '../overlay/log.js';
import { parseIpv4 } from './packets/addresses.js';
import { DEFAULT_SUBNET_CIDR, type Ipv4Subnet, isSubnetHost, parseSubnet } from './subnet.js';

/**
 * The settings of `ringvpn up`, from a JSON config file and the command line (flags win):
 *
 *   {
 *     "stateDir": "/var/lib/ringvpn",      identity, lease, control socket
 *     "port": 4000,                        UDP port (0: any)
 *     "listen": "0.0.0.0",                 IPv4 address to bind
 *     "bootstrap": ["203.0.113.7:4000"],   nodes to join through (or one comma-separated string)
 *     "network": "my-lan",                 the overlay's name: every node that knows it may join
 *     "subnet": "10.254.0.0/16",           the virtual LAN
 *     "vip": "10.254.0.20",                the address to ask for first (another is taken if it is in use)
 *     "tap": "ringvpn0",                   the TAP device's name
 *     "logLevel": "info"
 *   }
 */
export interface VpnSettings {
  readonly stateDir: string;
  readonly port: number;
  readonly listen: string | undefined;
  readonly bootstraps: readonly string[];
  readonly network: string;
  readonly subnetCidr: string;
  readonly subnet: Ipv4Subnet;
  readonly vip: number | undefined;
  readonly tap: string;
  readonly logLevel: LogLevel;
}

/** Settings as text, from either source; all optional. */
export interface RawSettings {
  stateDir?: string;
  port?: string;
  listen?: string;
  bootstrap?: string[];
  network?: string;
  subnet?: string;
  vip?: string;
  tap?: string;
  logLevel?: string;
}

export class VpnConfigError extends Error {
  override readonly name = 'VpnConfigError';
}

export const DEFAULT_TAP_NAME = 'ringvpn0';
export const DEFAULT_VPN_NETWORK = 'ringvpn-lan';
export const DEFAULT_VPN_PORT = 4100;
const KNOWN_KEYS = new Set(['stateDir', 'port', 'listen', 'bootstrap', 'network', 'subnet', 'vip', 'tap', 'logLevel']);

/** Reads a config file into raw settings; unknown keys and wrong types are errors in plain words. */
export function readConfigFile(path: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new VpnConfigError(`Cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new VpnConfigError(`The config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new VpnConfigError(`The config file ${path} must hold one JSON object.`);
  const o = value as Record<string, unknown>;
  const out: RawSettings = {};
  for (const [key, v] of Object.entries(o)) {
    if (!KNOWN_KEYS.has(key)) throw new VpnConfigError(`Unknown setting "${key}" in ${path}; known: ${[...KNOWN_KEYS].join(', ')}.`);
    if (key === 'bootstrap') {
      if (typeof v === 'string') out.bootstrap = [v];
      else if (Array.isArray(v) && v.every((b) => typeof b === 'string')) out.bootstrap = v as string[];
      else throw new VpnConfigError(`"bootstrap" in ${path} must be a list of "host:port" strings.`);
    } else if (key === 'port') {
      if (typeof v !== 'number' && typeof v !== 'string') throw new VpnConfigError(`"port" in ${path} must be a number.`);
      out.port = String(v);
    } else {
      if (typeof v !== 'string') throw new VpnConfigError(`"${key}" in ${path} must be a string.`);
      (out as Record<string, string>)[key] = v;
    }
  }
  return out;
}

/** Merges (flags over file over defaults) and validates. */
export function resolveSettings(flags: RawSettings, file: RawSettings, defaultStateDir: string): VpnSettings {
  const pick = <K extends keyof RawSettings>(k: K): RawSettings[K] => flags[k] ?? file[k];
  const portText = pick('port') ?? String(DEFAULT_VPN_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new VpnConfigError(`The port must be a whole number from 0 to 65535, got "${portText}".`);
  const network = pick('network') ?? DEFAULT_VPN_NETWORK;
  if (!validNetworkName(network)) throw new VpnConfigError('The network name must be 1 to 64 printable characters without spaces.');
  const subnetCidr = pick('subnet') ?? DEFAULT_SUBNET_CIDR;
  const subnet = parseSubnet(subnetCidr);
  if (!subnet.ok) throw new VpnConfigError(subnet.error.message);
  let vip: number | undefined;
  const vipText = pick('vip');
  if (vipText !== undefined) {
    vip = parseIpv4(vipText);
    if (vip === undefined || !isSubnetHost(subnet.value, vip) || vip === subnet.value.servicesAddress) {
      throw new VpnConfigError(`The virtual IP "${vipText}" must be a host address of ${subnetCidr} other than its lowest one (reserved for services).`);
    }
  }
  const tap = pick('tap') ?? DEFAULT_TAP_NAME;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tap) || tap === '.' || tap === '..') throw new VpnConfigError(`The TAP device name "${tap}" must be 1 to 15 letters, digits, "_", "-" or ".".`);
  const logLevel = pick('logLevel') ?? 'info';
  if (!isLogLevel(logLevel)) throw new VpnConfigError('The log level must be debug, info, warn or error.');
  const bootstraps = (pick('bootstrap') ?? []).flatMap((b) => b.split(',')).map((b) => b.trim()).filter((b) => b !== '');
  return {
    stateDir: pick('stateDir') ?? defaultStateDir,
    port,
    listen: pick('listen'),
    bootstraps,
    network,
    subnetCidr,
    subnet: subnet.value,
    vip,
    tap,
    logLevel,
  };
}
