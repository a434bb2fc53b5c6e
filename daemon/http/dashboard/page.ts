/** The dashboard's HTML: a shell the script fills from `/api/state` and `/events`. */

function escapeHtml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function dashboardPage(csrf: string, node: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="rmx-csrf" content="${escapeHtml(csrf)}">
<title>rmx — ${escapeHtml(node)}</title>
<link rel="stylesheet" href="/dashboard.css">
<script type="module" src="/dashboard.js"></script>
</head>
<body>
<header>
  <h1>rmx <span class="node">${escapeHtml(node)}</span></h1>
  <div id="badge" class="badge" role="status" aria-live="polite" aria-label="loading">loading…</div>
  <span id="live" class="live" role="status" aria-label="connecting">connecting…</span>
</header>
<main>
  <section aria-labelledby="matrix-title">
    <h2 id="matrix-title">Matrix</h2>
    <p class="hint">Models by hardware and sandbox. Each cell: state, its rate (tokens per second for chat, completion and embeddings; times real time for transcription; inferences per second for infer), load, error rate (of routed requests, with p50 and time to first token, where counted; else of probes), and what it serves.</p>
    <div class="scroll"><table id="matrix"><caption class="sr-only">Runtime matrix</caption></table></div>
  </section>
  <section aria-labelledby="runtimes-title">
    <h2 id="runtimes-title">Runtimes</h2>
    <div class="scroll"><table id="runtimes">
      <caption class="sr-only">Runtimes with restart budget and last error</caption>
      <thead><tr><th scope="col">Runtime</th><th scope="col">State</th><th scope="col">Restart budget</th><th scope="col">Last error</th><th scope="col">Actions</th></tr></thead>
      <tbody></tbody>
    </table></div>
    <p id="action-result" role="status" aria-live="polite"></p>
  </section>
  <section id="logs-panel" aria-labelledby="logs-title" hidden>
    <h2 id="logs-title">Logs</h2>
    <button type="button" id="logs-close">Close logs</button>
    <pre id="logs" tabindex="0" aria-label="log lines"></pre>
  </section>
</main>
</body>
</html>
`;
}

export function loginRequiredPage(why = "This dashboard needs a login."): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>rmx — login</title>
<link rel="stylesheet" href="/dashboard.css"></head>
<body><main><h1>rmx dashboard</h1><p>${escapeHtml(why)}</p>
<p>Run <code>rmx dashboard --open</code> on this machine for a one-time login link (valid 60 s).</p></main></body></html>
`;
}
