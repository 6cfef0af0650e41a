/** The link layer's public surface: the factory, its contract, and the wire constants others may need. */
export { createLinkLayer, type InspectableLinkLayer, type LinkStateSizes } from './link-layer.js';
export { LINK_DEFAULTS, MAX_PAYLOAD_BYTES } from './config.js';
export { PROTOCOL_VERSION, PacketType, decodePacket, type Packet, type PacketError } from './packet-codec.js';
export type * from './types.js';
