/** The one stylesheet, served at /static/style.css. No scripts anywhere: every page works with plain forms. */
export const STYLESHEET = `
:root { --ink: #1d2330; --muted: #5d6678; --line: #dfe3ea; --bg: #f5f7fa; --card: #fff;
  --accent: #2f6fde; --accent-ink: #fff; --danger: #c0392b; --ok: #1e8a4c; --warn: #b7791f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header.top { background: #16213a; color: #fff; }
header.top .bar { max-width: 1080px; margin: 0 auto; padding: 12px 20px; display: flex; align-items: center; gap: 16px; }
header.top a { color: #fff; text-decoration: none; }
header.top .brand { font-weight: 700; letter-spacing: .02em; }
header.top nav { margin-left: auto; display: flex; gap: 14px; align-items: center; }
header.top nav form { margin: 0; }
header.top nav button { background: transparent; border: 1px solid #5a6a8f; color: #fff; padding: 4px 10px; }
main { max-width: 1080px; margin: 24px auto; padding: 0 20px; }
h1 { font-size: 1.6rem; margin: 0 0 16px; }
h2 { font-size: 1.15rem; margin: 0 0 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px; margin-bottom: 20px; overflow-x: auto; }
.muted { color: var(--muted); }
.tabs { display: flex; gap: 6px; margin-bottom: 18px; flex-wrap: wrap; }
.tabs a { padding: 6px 14px; border-radius: 999px; text-decoration: none; color: var(--ink); border: 1px solid var(--line); background: #fff; }
.tabs a.active { background: var(--accent); color: var(--accent-ink); border-color: var(--accent); }
.badge { display: inline-block; min-width: 1.6em; padding: 0 6px; border-radius: 999px; background: var(--danger); color: #fff; font-size: .8rem; text-align: center; }
form.stack label { display: block; margin: 12px 0 4px; font-weight: 600; }
form.stack input[type=text], form.stack input[type=email], form.stack input[type=password], form.stack textarea {
  width: 100%; padding: 8px 10px; border: 1px solid #c5ccd8; border-radius: 6px; font: inherit; background: #fff; }
form.stack textarea { min-height: 110px; }
form.stack .check { display: flex; gap: 8px; align-items: flex-start; margin-top: 14px; font-weight: normal; }
button, .button { font: inherit; padding: 7px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary { background: #fff; color: var(--ink); border-color: #c5ccd8; }
button.danger { background: var(--danger); border-color: var(--danger); }
button.ok { background: var(--ok); border-color: var(--ok); }
form.stack button { margin-top: 16px; }
form.inline { display: inline; margin: 0; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 9px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; }
td.actions { text-align: right; }
td.actions form { display: inline-block; margin: 2px 0; }
td.time { white-space: nowrap; }
td.actions form + form { margin-left: 6px; }
.status { font-size: .85rem; padding: 2px 8px; border-radius: 999px; border: 1px solid var(--line); }
.status.active, .status.approved { color: var(--ok); border-color: var(--ok); }
.status.banned, .status.denied { color: var(--danger); border-color: var(--danger); }
.status.removed, .status.pending { color: var(--warn); border-color: var(--warn); }
.notice { padding: 12px 16px; border-radius: 8px; margin-bottom: 16px; border: 1px solid; }
.notice.error { background: #fdecea; border-color: #f5c2bd; color: #8a1f14; }
.notice.info { background: #eaf2fe; border-color: #bcd3f7; color: #1b4a94; }
code.secret, code.link { display: block; margin: 0 0 12px; padding: 10px 12px; background: #f0f2f6; border-radius: 6px; word-break: break-all; font-size: .9rem; }
.invite { display: grid; grid-template-columns: minmax(0, 1fr) 220px; gap: 24px; align-items: start; }
.invite .qr svg { width: 220px; height: 220px; background: #fff; display: block; }
.invite a, .break { word-break: break-all; }
@media (max-width: 700px) { .invite { grid-template-columns: 1fr; } }
`;
