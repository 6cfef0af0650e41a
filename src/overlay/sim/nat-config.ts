/**
 * Configuration of a simulated NAT: kinds, presets, defaults (the kinds are described in
 * nat-box.ts), and the counters a NAT keeps.
 */
export type NatKind = 'full-cone' | 'address-restricted' | 'port-restricted' | 'symmetric';

export const NAT_KINDS: readonly NatKind[] = ['full-cone', 'address-restricted', 'port-restricted', 'symmetric'];

/** Named starting points: the four kinds, plus what a Linux router (nftables masquerade) does. */
export type NatPreset = NatKind | 'linux' | 'linux-symmetric';

export interface NatConfig {
  readonly kind: NatKind;
  /** Unreplied conntrack entries spoil later flows toward the same remote (see nat-box.ts). */
  readonly linuxConntrack: boolean;
  /** Idle lifetime of a flow that saw traffic both ways. */
  readonly mappingTimeoutMs: number;
  /** Idle lifetime of a flow seen one way only, and of an unreplied inbound entry. */
  readonly unrepliedTimeoutMs: number;
  /** Endpoint-independent kinds reuse the private port as public port when it is free. */
  readonly portPreservation: boolean;
  /** Cap on flows plus unreplied entries (a home router's conntrack table). */
  readonly maxEntries: number;
}

export interface NatOptions extends Partial<NatConfig> {
  /** Defaults to start from; the fields given here override it. Either `preset` or `kind` is needed. */
  preset?: NatPreset;
}

/** Linux conntrack's UDP timeouts: `nf_conntrack_udp_timeout_stream` and `nf_conntrack_udp_timeout`. */
export const DEFAULT_MAPPING_TIMEOUT_MS = 120_000;
export const DEFAULT_UNREPLIED_TIMEOUT_MS = 30_000;
/** Expired entries are removed at the latest this long after they expire (lookups check on their own). */
export const SWEEP_INTERVAL_MS = 10_000;
/** Typical of a home router's conntrack table; keeps a NAT's memory bounded under any traffic. */
export const DEFAULT_MAX_ENTRIES = 16_384;

const PRESETS: Record<NatPreset, { kind: NatKind; linuxConntrack: boolean }> = {
  'full-cone': { kind: 'full-cone', linuxConntrack: false },
  'address-restricted': { kind: 'address-restricted', linuxConntrack: false },
  'port-restricted': { kind: 'port-restricted', linuxConntrack: false },
  symmetric: { kind: 'symmetric', linuxConntrack: false },
  linux: { kind: 'port-restricted', linuxConntrack: true },
  'linux-symmetric': { kind: 'symmetric', linuxConntrack: true },
};

/** Fills in defaults and validates; throws RangeError with a plain explanation. */
export function resolveNatConfig(opts: NatOptions | NatPreset): NatConfig {
  const o: NatOptions = typeof opts === 'string' ? { preset: opts } : opts;
  const preset = o.preset !== undefined && Object.hasOwn(PRESETS, o.preset) ? PRESETS[o.preset] : undefined;
  if (o.preset !== undefined && preset === undefined) throw new RangeError(`unknown NAT preset "${o.preset}"`);
  const kind = o.kind ?? preset?.kind;
  if (kind === undefined) throw new RangeError('a NAT needs a kind or a preset');
  if (!NAT_KINDS.includes(kind)) throw new RangeError(`unknown NAT kind "${kind}" (known: ${NAT_KINDS.join(', ')})`);
  const config: NatConfig = {
    kind,
    linuxConntrack: o.linuxConntrack ?? preset?.linuxConntrack ?? false,
    mappingTimeoutMs: o.mappingTimeoutMs ?? DEFAULT_MAPPING_TIMEOUT_MS,
    unrepliedTimeoutMs: o.unrepliedTimeoutMs ?? DEFAULT_UNREPLIED_TIMEOUT_MS,
    portPreservation: o.portPreservation ?? true,
    maxEntries: o.maxEntries ?? DEFAULT_MAX_ENTRIES,
  };
  for (const key of ['mappingTimeoutMs', 'unrepliedTimeoutMs'] as const) {
    if (!(config[key] > 0 && Number.isFinite(config[key]))) throw new RangeError(`${key} must be a positive number of ms`);
  }
  if (!(Number.isInteger(config.maxEntries) && config.maxEntries >= 1)) throw new RangeError('maxEntries must be a whole number ≥ 1');
  return config;
}

export interface NatStats {
  /** Public ports in use (mappings), after removing expired ones. */
  mappings: number;
  /** Flows (private endpoint, remote) tracked. */
  flows: number;
  /** Unreplied inbound entries (linuxConntrack only). */
  unreplied: number;
  /** Public ports handed out since creation. */
  mappingsCreated: number;
  translatedOut: number;
  translatedIn: number;
  /** Packets dropped by this NAT (inbound filtering, hairpins, full table). */
  filtered: number;
  hairpinDropped: number;
  /** Flows that got their own random port because of an unreplied entry (linuxConntrack). */
  tupleClashes: number;
  /** New flows refused because the table was full. */
  tableFull: number;
  restarts: number;
}
