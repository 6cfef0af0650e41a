import type { JoinRequestRow, MemberRow } from '../storage/members-store.js';
import type { AdminRow, GroupRow } from '../storage/groups-store.js';
import { addressFromPublicKey, shortAddress } from '../../overlay/address.js';
import { type SafeHtml, html, trustedHtml } from './html.js';
import { csrfField, formatTime, groupTabs } from './layout.js';

export interface InvitationView {
  link: string;
  webLink: string;
  qrSvg: string;
  fingerprint: string;
}

export function overviewBody(p: { group: GroupRow; invitation: InvitationView; pending: number; csrf: string }): SafeHtml {
  const g = p.group;
  return html`<h1>${g.name}</h1>
${groupTabs(g.id, 'overview', p.pending)}
<div class="card">
  <h2>Invitation</h2>
  <div class="invite">
    <div>
      <p>Give this link to the people you want in the group. With the RingVPN app, they paste it under
      <strong>Join group</strong> (or scan the code). It carries this server's address and the fingerprint of its
      certificate, so the app talks only to this server.</p>
      <code class="link" aria-label="Invitation link">${p.invitation.link}</code>
      <p>People without the app can ask on the web: <a href="${p.invitation.webLink}" aria-label="Web join page">${p.invitation.webLink}</a></p>
      <p class="muted">Server certificate fingerprint (SHA-256): ${p.invitation.fingerprint}</p>
      <p><a class="button" href="/groups/${g.id}/invitation.ringvpn" download>Download invitation file</a></p>
      <form class="inline" method="post" action="/groups/${g.id}/invite/renew">
        ${csrfField(p.csrf)}<button type="submit" class="secondary">Make a new invitation (the old one stops working)</button>
      </form>
    </div>
    <div class="qr" role="img" aria-label="QR code of the invitation">${trustedHtml(p.invitation.qrSvg)}</div>
  </div>
</div>
<div class="card">
  <h2>Approval</h2>
  <form class="stack" method="post" action="/groups/${g.id}/settings">
    ${csrfField(p.csrf)}
    <label class="check"><input type="checkbox" name="autoApprove" value="on" ${g.auto_approve === 1 ? html`checked` : ''}>
      Sign certificates automatically: anyone with the invitation gets in without waiting for an admin</label>
    <button type="submit">Save</button>
  </form>
</div>`;
}

export function requestsBody(p: { group: GroupRow; requests: JoinRequestRow[]; csrf: string }): SafeHtml {
  const g = p.group;
  const rows = p.requests.map(
    (r) => html`<tr>
      <td>${r.name}</td>
      <td>${r.email}</td>
      <td class="time">${formatTime(r.created_at)}</td>
      <td>${r.source === 'web' ? 'web page' : 'app'}${r.public_key !== null ? ', device key received' : ''}</td>
      <td class="actions">
        <form class="inline" method="post" action="/groups/${g.id}/requests/${r.id}/approve">${csrfField(p.csrf)}<button type="submit" class="ok" aria-label="Approve ${r.name}">Approve</button></form>
        <form class="inline" method="post" action="/groups/${g.id}/requests/${r.id}/deny">${csrfField(p.csrf)}<button type="submit" class="danger" aria-label="Deny ${r.name}">Deny</button></form>
      </td>
    </tr>`,
  );
  return html`<h1>${g.name}</h1>
${groupTabs(g.id, 'requests', p.requests.length)}
<div class="card">
  <h2>Waiting for approval</h2>
  ${
    p.requests.length === 0
      ? html`<p class="muted">No one is waiting.</p>`
      : html`<table><thead><tr><th>Name</th><th>E-mail</th><th>Asked</th><th>From</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
  }
</div>`;
}

export function membersBody(p: { group: GroupRow; members: MemberRow[]; pending: number; csrf: string }): SafeHtml {
  const g = p.group;
  const action = (m: MemberRow, what: string, label: string, cls: string, aria: string) =>
    html`<form class="inline" method="post" action="/groups/${g.id}/members/${m.id}/${what}">${csrfField(p.csrf)}<button type="submit" class="${cls}" aria-label="${aria}">${label}</button></form>`;
  const rows = p.members.map((m) => {
    const gateway = m.roles.split(',').includes('gateway');
    const address = shortAddress(addressFromPublicKey(new Uint8Array(m.public_key)));
    return html`<tr>
      <td>${m.name}</td>
      <td>${m.email}</td>
      <td><code>${address}</code></td>
      <td>${gateway ? 'gateway' : 'member'}</td>
      <td><span class="status ${m.status}">${m.status}</span></td>
      <td class="time">${formatTime(m.last_seen)}</td>
      <td class="actions">${
        m.status === 'active'
          ? [
              gateway
                ? action(m, 'gateway-off', 'Gateway off', 'secondary', `Turn gateway off for ${m.name}`)
                : action(m, 'gateway-on', 'Make gateway', 'secondary', `Make ${m.name} a gateway`),
              action(m, 'remove', 'Remove', 'secondary', `Remove ${m.name}`),
              action(m, 'ban', 'Ban', 'danger', `Ban ${m.name}`),
            ]
          : ''
      }</td>
    </tr>`;
  });
  return html`<h1>${g.name}</h1>
${groupTabs(g.id, 'members', p.pending)}
<div class="card">
  <h2>Members</h2>
  <p class="muted">Ban revokes the member's certificate and device and refuses new requests from their e-mail address;
  remove revokes the certificate but lets them ask again.</p>
  ${
    p.members.length === 0
      ? html`<p class="muted">No members yet.</p>`
      : html`<table><thead><tr><th>Name</th><th>E-mail</th><th>Address</th><th>Role</th><th>State</th><th>Last seen</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
  }
</div>`;
}

export function adminsBody(p: { group: GroupRow; admins: AdminRow[]; self: AdminRow; pending: number; csrf: string; inviteLink?: string }): SafeHtml {
  const g = p.group;
  const rows = p.admins.map(
    (a) => html`<tr>
      <td>${a.username}</td>
      <td>${a.email}</td>
      <td>${formatTime(a.created_at)}</td>
      <td class="actions">${
        a.id === p.self.id
          ? html`<span class="muted">you</span>`
          : html`<form class="inline" method="post" action="/groups/${g.id}/admins/${a.id}/remove">${csrfField(p.csrf)}<button type="submit" class="danger" aria-label="Remove admin ${a.username}">Remove</button></form>`
      }</td>
    </tr>`,
  );
  return html`<h1>${g.name}</h1>
${groupTabs(g.id, 'admins', p.pending)}
<div class="card">
  <h2>Admins</h2>
  <p class="muted">Every admin can approve requests, manage members and settings, and gets the e-mails about new requests.</p>
  <table><thead><tr><th>User name</th><th>E-mail</th><th>Since</th><th></th></tr></thead><tbody>${rows}</tbody></table>
</div>
<div class="card">
  <h2>Add an admin</h2>
  ${
    p.inviteLink !== undefined
      ? html`<p>Send this link to the new admin. It works once, for 7 days; they choose their user name and password there.
      It is shown only now.</p><code class="link" aria-label="Admin invitation link">${p.inviteLink}</code>`
      : html`<p>Make a one-time link for the new admin; they choose their user name and password.</p>`
  }
  <form class="inline" method="post" action="/groups/${g.id}/admins/invite">${csrfField(p.csrf)}<button type="submit">Make an admin invitation link</button></form>
</div>`;
}
