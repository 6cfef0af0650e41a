/** The groups library: certificates and revocation (shared with the group server) and the client's join flow. */
export * from './certificate.js';
export * from './revocation.js';
export * from './group-ca.js';
export { createGroupAdmission, type GroupAdmissionInit } from './admission.js';
export { type Invitation, parseInvitation, formatInvitationLink, formatInvitationFile } from './invitation.js';
export { type JoinOptions, type JoinProgress, type JoinResult, joinGroup } from './join.js';
export { type GroupMembership, loadMembership, refreshCrl, refreshCertificate } from './membership.js';
export { GroupStateDir, joinedGroupIds, loadOrCreateNodeIdentity } from './group-state.js';
export { GroupApiClient } from './group-api-client.js';
export { GroupError } from './errors.js';
export { parseJoinCode, type BootstrapPeer } from './api-protocol.js';
export {
  type CrlSource,
  type CrlUpdate,
  type LearnOutcome,
  type RevocationServiceInit,
  type RevocationSource,
  REVOCATION_BROADCAST_CHANNEL,
  REVOCATION_GOSSIP_CHANNEL,
  RevocationService,
  createRevocationService,
} from './revocation-service.js';
export { serverCrlSource } from './crl-source.js';
export { type GroupNode, type GroupNodeAttachment, openGroupForNode } from './group-node.js';
