import { type Result, err, ok } from '../overlay/result.js';
import { fromBase64Url } from './binary.js';

/**
 * An invitation to a group:
 *   ringvpn://join?server=https%3A%2F%2Fvpn.example.org%3A8443&group=<32 hex>&fp=<64 hex>&token=<invite token>&ca=<base64url>
 * `fp` is the SHA-256 fingerprint of the group server's TLS certificate: the client pins it instead
 * of trusting public CAs (the server's certificate is self-signed). Without `fp` (a server behind a
 * proxy with a publicly trusted certificate) the client checks the certificate the usual way.
 * `ca` is the group CA's public key, so the client can check what the server hands it.
 * An invitation file holds the same link (lines starting with # are ignored) or the same fields as JSON.
 */
export interface Invitation {
  serverUrl: string;
  groupId: string;
  fingerprint: string | null;
  token: string;
  caPublicKey: string | null;
}

const GROUP = /^[0-9a-f]{32}$/;
const FINGERPRINT = /^[0-9a-f]{64}$/;
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
const MAX_INVITATION_CHARS = 4096;

export function formatInvitationLink(inv: Invitation): string {
  const q = new URLSearchParams({ server: inv.serverUrl, group: inv.groupId });
  if (inv.fingerprint !== null) q.set('fp', inv.fingerprint);
  q.set('token', inv.token);
  if (inv.caPublicKey !== null) q.set('ca', inv.caPublicKey);
  return `ringvpn://join?${q.toString()}`;
}

/** An invitation file: a comment for people, then the link. */
export function formatInvitationFile(inv: Invitation, groupName: string): string {
  const safeName = groupName.replace(/[\r\n]/g, ' ');
  return `# RingVPN invitation to the group "${safeName}".\n# Open it with the RingVPN app (Join group).\n${formatInvitationLink(inv)}\n`;
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function validate(fields: Record<string, unknown>): Result<Invitation, string> {
  const { server, group, fp, token, ca } = fields;
  if (typeof server !== 'string' || typeof group !== 'string' || typeof token !== 'string') {
    return err('the invitation is incomplete: it needs the server, the group and the invitation token');
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return err('the server address in the invitation is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    return err('the invitation must point at an https:// server');
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    return err('the server address in the invitation must not carry a user, query or fragment');
  }
  if (!GROUP.test(group)) return err('the group id in the invitation is malformed');
  if (!TOKEN.test(token)) return err('the invitation token is malformed');
  let fingerprint: string | null = null;
  if (fp !== undefined && fp !== null && fp !== '') {
    if (typeof fp !== 'string') return err("the server's fingerprint in the invitation is malformed");
    const normalised = fp.replace(/:/g, '').toLowerCase();
    if (!FINGERPRINT.test(normalised)) return err("the server's fingerprint in the invitation is malformed");
    fingerprint = normalised;
  }
  let caPublicKey: string | null = null;
  if (ca !== undefined && ca !== null && ca !== '') {
    if (typeof ca !== 'string' || fromBase64Url(ca, 32)?.length !== 32) return err("the group's key in the invitation is malformed");
    caPublicKey = ca;
  }
  const serverUrl = url.origin + url.pathname.replace(/\/+$/, '');
  return ok({ serverUrl, groupId: group, fingerprint, token, caPublicKey });
}

/** Parses a ringvpn:// link or the contents of an invitation file. Errors are sentences for people. */
export function parseInvitation(input: string): Result<Invitation, string> {
  if (input.length > MAX_INVITATION_CHARS) return err('this is too long to be an invitation');
  const trimmed = input.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return err('the invitation file is damaged (it is not valid JSON)');
    }
    if (parsed === null || typeof parsed !== 'object') return err('the invitation file is damaged');
    const p = parsed as Record<string, unknown>;
    return validate({ server: p.serverUrl, group: p.groupId, fp: p.fingerprint, token: p.token, ca: p.caPublicKey });
  }
  const line = trimmed
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !l.startsWith('#'));
  if (line === undefined || !line.startsWith('ringvpn://join?')) {
    return err('this is not a RingVPN invitation (it should start with ringvpn://join?)');
  }
  const q = new URLSearchParams(line.slice('ringvpn://join?'.length));
  for (const key of ['server', 'group', 'token', 'fp', 'ca']) {
    if (q.getAll(key).length > 1) return err('the invitation is damaged (a field appears twice)');
  }
  return validate({ server: q.get('server'), group: q.get('group'), fp: q.get('fp'), token: q.get('token'), ca: q.get('ca') });
}
