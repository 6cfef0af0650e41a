/**
 * nftables rulesets of the lab's NAT routers (one table per router namespace, named
 * {@link NAT_TABLE}). Interfaces inside a router namespace: `wan` toward the core, `lan` (a
 * bridge) toward its hosts.
 *
 * - endpoint-independent: plain `masquerade`, what Linux home routers do. The source port is
 *   kept when free, and one local port keeps one public port whatever the destination
 *   (endpoint-independent mapping); the stateful filter admits only replies from the exact
 *   address and port a host wrote to (address-and-port-dependent filtering).
 * - symmetric: `masquerade fully-random`: every new flow (destination) gets a random public port.
 *
 * Both drop unsolicited traffic from the outside (forward policy drop, replies only).
 */
export type NatKind = 'endpoint-independent' | 'symmetric';

export const NAT_TABLE = 'ringvpn_lab_nat';

export function natRuleset(kind: NatKind): string {
  const masquerade = kind === 'symmetric' ? 'masquerade fully-random' : 'masquerade';
  return `table ip ${NAT_TABLE} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ${masquerade}
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
}
`;
}
