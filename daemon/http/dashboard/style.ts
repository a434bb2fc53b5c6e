/** The dashboard's stylesheet; follows prefers-color-scheme, no external font. */
export const DASHBOARD_CSS = `:root {
  --bg: #ffffff; --fg: #1b1b1b; --muted: #555; --line: #c8c8c8; --card: #f6f6f6;
  --ok: #1b5e20; --warn: #8a4b00; --error: #b71c1c; --info: #0d47a1; --off: #444;
  font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #121212; --fg: #ececec; --muted: #b0b0b0; --line: #444; --card: #1e1e1e;
    --ok: #81c784; --warn: #ffb74d; --error: #ef9a9a; --info: #90caf9; --off: #bdbdbd; }
}
body { background: var(--bg); color: var(--fg); margin: 0; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.25rem; margin: 0; } h2 { font-size: 1.1rem; }
.node { color: var(--muted); font-weight: normal; }
main { padding: 0 1rem 2rem; }
.badge { border: 2px solid currentColor; border-radius: .4rem; padding: .25rem .6rem; font-weight: 600; }
.live { color: var(--muted); font-size: .9rem; }
.hint { color: var(--muted); font-size: .9rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: .4rem .6rem; text-align: left; vertical-align: top; }
th { background: var(--card); }
.cell .state { font-weight: 600; }
.cell .facts { color: var(--muted); font-size: .85rem; }
.cell .caps { color: var(--muted); font-size: .75rem; letter-spacing: .02em; }
.sev-info, .level-ok { color: var(--ok); }
.sev-warn, .level-warn { color: var(--warn); }
.sev-error, .level-error { color: var(--error); }
.unavailable, .cell .code-offline { color: var(--off); font-style: italic; }
button { font: inherit; margin: 0 .25rem .25rem 0; padding: .2rem .5rem; background: var(--card); color: var(--fg); border: 1px solid var(--line); border-radius: .3rem; cursor: pointer; }
button:focus-visible { outline: 3px solid var(--info); outline-offset: 1px; }
pre { background: var(--card); padding: .5rem; max-height: 20rem; overflow: auto; white-space: pre-wrap; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
code { background: var(--card); padding: 0 .2rem; }
`;
