/**
 * What one IP packet from the TAP device costs on the wire, and the TAP MTU that keeps every
 * encapsulated packet inside a 1500-byte underlay.
 *
 * Direct path (one link session):
 *   underlay IPv4 20 (IPv6 40) + UDP 8
 *   + link DATA header 14 + content type 1 + AEAD tag 16 (ChaCha20-Poly1305)
 *   + overlay message header 2 (version, type: DATAGRAM)
 *   = 61 bytes over IPv4, 81 over IPv6.
 * Relayed path (the session's packet rides inside a relay-send / relay-deliver message on the
 * link with the relay):
 *   + overlay RELAY_SEND header 2 + target address 20 + length 2
 *   + the relay link's DATA header 14 + content type 1 + tag 16
 *   = 116 bytes over IPv4, 136 over IPv6.
 *
 * 1500 - 136 = 1364; the MTU is rounded down to 1360 so that the worst case (relayed over IPv6)
 * still fits, and so does a 1492-byte PPPoE underlay on the relayed IPv4 path (1360 + 116 = 1476).
 * Packets are never fragmented by the tunnel: the TAP MTU keeps the host's packets this small, TCP
 * SYNs are clamped to the matching MSS both ways, and a larger packet with DF set is answered with
 * ICMP "fragmentation needed" carrying this MTU.
 */
export const UNDERLAY_MTU = 1500;
export const DIRECT_OVERHEAD_IPV4 = 20 + 8 + 14 + 1 + 16 + 2;
export const RELAY_EXTRA_OVERHEAD = 2 + 20 + 2 + 14 + 1 + 16;
export const IPV6_EXTRA_OVERHEAD = 20;
export const WORST_CASE_OVERHEAD = DIRECT_OVERHEAD_IPV4 + RELAY_EXTRA_OVERHEAD + IPV6_EXTRA_OVERHEAD;

/** The TAP device's MTU: the largest IP packet the tunnel carries. */
export const TUNNEL_MTU = Math.floor((UNDERLAY_MTU - WORST_CASE_OVERHEAD) / 8) * 8;
