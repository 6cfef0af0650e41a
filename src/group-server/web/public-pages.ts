import { type SafeHtml, html } from './html.js';
import { csrfField } from './layout.js';

export function homeBody(options: { canCreate: boolean; csrf: string; values?: Record<string, string> }): SafeHtml {
  const v = options.values ?? {};
  return html`<h1>Private networks for your group</h1>
<div class="card">
  <p>This server is the certificate authority of one or more RingVPN groups. People ask to join with an
  invitation; an admin approves them with one click; members then find and trust each other without this server.</p>
  <p>Have an invitation? Open its link, or paste it into the RingVPN app under <strong>Join group</strong>.</p>
</div>
${
  options.canCreate
    ? html`<div class="card">
  <h2>Create a group</h2>
  <form class="stack" method="post" action="/groups">
    ${csrfField(options.csrf)}
    <label for="groupName">Group name</label>
    <input type="text" id="groupName" name="groupName" maxlength="64" required value="${v.groupName ?? ''}">
    ${adminAccountFields(v)}
    <label for="terms">Terms people accept when they join</label>
    <textarea id="terms" name="terms" maxlength="4000">${v.terms ?? ''}</textarea>
    <button type="submit">Create group</button>
  </form>
</div>`
    : html`<div class="card"><p class="muted">New groups are created by the admins of this server. <a href="/login">Log in</a>.</p></div>`
}`;
}

export function loginBody(csrf: string, username = ''): SafeHtml {
  return html`<h1>Admin login</h1>
<div class="card">
  <form class="stack" method="post" action="/login">
    ${csrfField(csrf)}
    <label for="username">User name</label>
    <input type="text" id="username" name="username" maxlength="32" autocomplete="username" required value="${username}">
    <label for="password">Password</label>
    <input type="password" id="password" name="password" maxlength="200" autocomplete="current-password" required>
    <button type="submit">Log in</button>
  </form>
</div>`;
}

export function joinBody(p: { groupName: string; terms: string; action: string; csrf: string; values?: Record<string, string> }): SafeHtml {
  const v = p.values ?? {};
  return html`<h1>Join ${p.groupName}</h1>
<div class="card">
  <p>Ask the admins of <strong>${p.groupName}</strong> to let you in. If you have the RingVPN app, it is simpler to
  paste the invitation into the app (<strong>Join group</strong>): it asks for you and sets everything up.
  This page is for asking before you have the app.</p>
  <form class="stack" method="post" action="${p.action}">
    ${csrfField(p.csrf)}
    <label for="name">Your name, as other members will see it</label>
    <input type="text" id="name" name="name" maxlength="64" required value="${v.name ?? ''}">
    <label for="email">Your e-mail address (only admins see it)</label>
    <input type="email" id="email" name="email" maxlength="254" required value="${v.email ?? ''}">
    <h2 style="margin-top:18px">Terms of the group</h2>
    <p class="muted" style="white-space: pre-wrap">${p.terms}</p>
    <label class="check"><input type="checkbox" name="acceptTerms" value="on" required> I accept the terms of this group</label>
    <button type="submit">Ask to join</button>
  </form>
</div>`;
}

export function joinSentBody(p: { groupName: string; joinCode: string; statusUrl: string; approved: boolean }): SafeHtml {
  return html`<h1>${p.approved ? 'You are approved' : 'Request sent'}</h1>
<div class="card">
  <p>${p.approved ? html`This group approves requests automatically.` : html`The admins of <strong>${p.groupName}</strong> have been told. You can check the state of your request on <a href="${p.statusUrl}">its status page</a>.`}</p>
  <h2>Your join code</h2>
  <p>Keep it private, and copy it now: it is shown only once. In the RingVPN app choose <strong>Join group</strong>,
  paste the invitation, then choose <strong>I already asked on the web page</strong> and paste this code.
  The app then gets its certificate as soon as an admin approves you.</p>
  <code class="secret" aria-label="Join code">${p.joinCode}</code>
</div>`;
}

export function joinStatusBody(p: { groupName: string; name: string; state: string }): SafeHtml {
  const text: Record<string, string> = {
    pending: 'Waiting for an admin to approve it. Reload this page to check again.',
    approved: 'Approved. Use your join code in the RingVPN app to connect.',
    denied: 'The admins declined this request.',
    removed: 'This request was approved, but an admin has since removed the membership.',
  };
  return html`<h1>Request to join ${p.groupName}</h1>
<div class="card">
  <p>Request from <strong>${p.name}</strong>: <span class="status ${p.state}">${p.state}</span></p>
  <p>${text[p.state] ?? ''}</p>
</div>`;
}

export function errorBody(title: string, message: string): SafeHtml {
  return html`<h1>${title}</h1><div class="card"><p>${message}</p><p><a href="/">Back to the start page</a></p></div>`;
}

export function accountBody(p: { username: string; csrf: string }): SafeHtml {
  return html`<h1>Your account</h1>
<div class="card">
  <h2>Change the password of ${p.username}</h2>
  <form class="stack" method="post" action="/account/password">
    ${csrfField(p.csrf)}
    <input type="text" name="username" value="${p.username}" autocomplete="username" hidden>
    <label for="current">Current password</label>
    <input type="password" id="current" name="current" maxlength="200" autocomplete="current-password" required>
    <label for="password">New password (at least 10 characters)</label>
    <input type="password" id="password" name="password" minlength="10" maxlength="200" autocomplete="new-password" required>
    <label for="confirm">New password again</label>
    <input type="password" id="confirm" name="confirm" minlength="10" maxlength="200" autocomplete="new-password" required>
    <button type="submit">Change password</button>
  </form>
  <p class="muted">Changing it logs out every other browser where you are logged in.</p>
</div>`;
}

export function adminInviteBody(p: { groupName: string; action: string; csrf: string; values?: Record<string, string> }): SafeHtml {
  const v = p.values ?? {};
  return html`<h1>Become an admin of ${p.groupName}</h1>
<div class="card">
  <form class="stack" method="post" action="${p.action}">
    ${csrfField(p.csrf)}
    ${adminAccountFields(v)}
    <button type="submit">Become an admin</button>
  </form>
</div>`;
}

/** The fields of a new admin account (user name, e-mail, password), kept filled in after an error. */
function adminAccountFields(v: Record<string, string>): SafeHtml {
  return html`<label for="username">Your admin user name</label>
    <input type="text" id="username" name="username" maxlength="32" autocomplete="username" required value="${v.username ?? ''}">
    <label for="email">Your e-mail (for join notifications)</label>
    <input type="email" id="email" name="email" maxlength="254" autocomplete="email" required value="${v.email ?? ''}">
    <label for="password">Password (at least 10 characters)</label>
    <input type="password" id="password" name="password" minlength="10" maxlength="200" autocomplete="new-password" required>`;
}
