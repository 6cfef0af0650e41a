import { type SafeHtml, html } from './html.js';

export interface PageChrome {
  title: string;
  /** Shown in the header when an admin is logged in: their group, for the nav links. */
  admin?: { groupId: string; groupName: string; username: string; pending: number };
  /** CSRF token for the logout form in the header. */
  csrf?: string;
  notice?: { kind: 'error' | 'info'; text: string } | undefined;
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

export function page(chrome: PageChrome, body: SafeHtml): string {
  const a = chrome.admin;
  const nav =
    a !== undefined
      ? html`<nav aria-label="Admin">
          <a href="/groups/${a.groupId}">${a.groupName}</a>
          <a href="/account" class="muted" aria-label="Account of ${a.username}">${a.username}</a>
          <form class="inline" method="post" action="/logout">${csrfField(chrome.csrf ?? '')}<button type="submit">Log out</button></form>
        </nav>`
      : html`<nav aria-label="Site"><a href="/login">Admin login</a></nav>`;
  const notice = chrome.notice ? html`<div class="notice ${chrome.notice.kind}" role="${chrome.notice.kind === 'error' ? 'alert' : 'status'}">${chrome.notice.text}</div>` : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${chrome.title} · RingVPN</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header class="top"><div class="bar"><a class="brand" href="/">RingVPN group server</a>${nav}</div></header>
<main>
${notice}
${body}
</main>
</body>
</html>`.value;
}

export function groupTabs(groupId: string, active: 'overview' | 'requests' | 'members' | 'admins', pending: number): SafeHtml {
  const tab = (key: typeof active, href: string, label: SafeHtml | string) =>
    html`<a href="${href}" class="${key === active ? 'active' : ''}" ${key === active ? html`aria-current="page"` : ''}>${label}</a>`;
  return html`<nav class="tabs" aria-label="Group">
    ${tab('overview', `/groups/${groupId}`, 'Invitation and settings')}
    ${tab('requests', `/groups/${groupId}/requests`, html`Join requests ${pending > 0 ? html`<span class="badge" aria-label="${pending} waiting">${pending}</span>` : ''}`)}
    ${tab('members', `/groups/${groupId}/members`, 'Members')}
    ${tab('admins', `/groups/${groupId}/admins`, 'Admins')}
  </nav>`;
}

export function formatTime(ms: number | null): string {
  if (ms === null) return 'never';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
