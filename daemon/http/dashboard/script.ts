/** The dashboard script, served as /dashboard.js (a module; CSP allows only self). */
export const DASHBOARD_JS = `// rmx dashboard: renders /api/state, then every snapshot /events sends. No framework, no build step.
const csrf = document.querySelector('meta[name="rmx-csrf"]').content;
const SYMBOL = { ready: "✓", starting: "◔", degraded: "!", error: "✗", offline: "○" };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(c);
  return node;
}

function statusText(status) {
  return (SYMBOL[status.code] || "?") + " " + status.label;
}

function fmt(n, digits) {
  return n === undefined || n === null ? "—" : Number(n).toFixed(digits);
}

function pct(rate) {
  return (rate * 100).toFixed(1) + "%";
}

// Routed requests (the gateway's telemetry, when the daemon has it), else what the probes saw.
function errorFacts(cell) {
  const t = cell.traffic;
  if (t && t.error_rate !== undefined) {
    let text = pct(t.error_rate) + " request errors" + (t.total !== undefined ? " of " + t.total : "");
    if (t.p50_ms !== undefined) text += " · p50 " + fmt(t.p50_ms, 0) + " ms";
    if (t.ttft_p50_ms !== undefined) text += " · TTFT p50 " + fmt(t.ttft_p50_ms, 0) + " ms";
    return text;
  }
  return cell.error_rate === undefined ? "probe errors —" : pct(cell.error_rate) + " probe errors";
}

// The cell's rate in its capability's unit: "42.0 tok/s", "12.3× real time", "250.0 inferences/s".
function rateText(cell) {
  const unit = cell.rate_unit || "tok/s";
  const value = cell.rate_unit ? cell.rate : cell.tokens_per_second;
  return fmt(value, 1) + (unit === "× real time" ? "" : " ") + unit;
}

function renderBadge(badge) {
  const b = $("badge");
  b.className = "badge level-" + badge.level;
  b.textContent = badge.symbol + " " + badge.text;
  b.setAttribute("aria-label", "Node " + badge.level + ": " + badge.text);
  b.dataset.ready = String(badge.ready);
  b.dataset.total = String(badge.total);
}

function renderMatrix(cells) {
  const table = $("matrix");
  const caption = table.querySelector("caption");
  table.replaceChildren(caption);
  const models = [...new Set(cells.map((c) => c.model))].sort();
  const places = [...new Set(cells.map((c) => c.hardware + "/" + c.sandbox))].sort();
  const head = el("tr", {}, el("th", { scope: "col" }, "Model"));
  for (const p of places) head.append(el("th", { scope: "col" }, p));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  for (const m of models) {
    const row = el("tr", {}, el("th", { scope: "row" }, m));
    for (const p of places) {
      const cell = cells.find((c) => c.model === m && c.hardware + "/" + c.sandbox === p);
      if (!cell) {
        row.append(el("td", { class: "unavailable" }, "not placed"));
        continue;
      }
      const s = cell.status;
      const load = cell.load || {};
      const slots = load.slots_total ? (load.slots_busy || 0) + "/" + load.slots_total + " slots" : "load —";
      const facts = rateText(cell) + " · " + slots + " · " + errorFacts(cell);
      const caps = cell.capabilities || [];
      row.append(
        el(
          "td",
          {
            class: "cell",
            "data-cell": cell.key,
            "data-code": s.code,
            "data-runtimes": cell.runtimes.join(" "),
            "data-tokens-per-second": cell.tokens_per_second === undefined ? undefined : String(cell.tokens_per_second),
            "data-capabilities": caps.join(" "),
            "data-rate-unit": cell.rate_unit,
            "data-error-rate": String((cell.traffic && cell.traffic.error_rate) ?? cell.error_rate ?? ""),
          },
          el("span", { class: "state sev-" + s.severity + " code-" + s.code, role: "status", "aria-label": s.label + ". " + s.aria_hint }, statusText(s)),
          el("br"),
          el("span", { class: "facts" }, cell.available ? facts : "unavailable" + (cell.unavailable_reason ? ": " + cell.unavailable_reason : "")),
          caps.length > 0 ? el("br") : undefined,
          caps.length > 0 ? el("span", { class: "caps", "aria-label": "serves " + caps.join(", ") }, caps.join(" · ")) : undefined,
        ),
      );
    }
    body.append(row);
  }
  table.append(body);
}

async function act(method, params, label) {
  const out = $("action-result");
  out.textContent = label + "…";
  try {
    const res = await fetch("/api/action", {
      method: "POST",
      headers: { "content-type": "application/json", "x-rmx-csrf": csrf },
      body: JSON.stringify({ method, params }),
    });
    const body = await res.json();
    out.textContent = res.ok ? label + ": done (state " + (body.result && body.result.state) + ")" : label + " failed: " + body.error.message;
  } catch (e) {
    out.textContent = label + " failed: " + e.message;
  }
}

let logStream;
function openLogs(id) {
  if (logStream) logStream.close();
  $("logs-panel").hidden = false;
  $("logs-title").textContent = "Logs of " + id + " (live)";
  const pre = $("logs");
  pre.textContent = "";
  logStream = new EventSource("/api/logs/follow?id=" + encodeURIComponent(id) + "&lines=100");
  logStream.addEventListener("line", (e) => {
    pre.append(JSON.parse(e.data) + "\\n");
    pre.scrollTop = pre.scrollHeight;
  });
}

function renderRuntimes(runtimes) {
  const body = $("runtimes").querySelector("tbody");
  body.replaceChildren();
  for (const rt of runtimes) {
    const b = rt.restart_budget;
    const budget = b.remaining + " of " + b.max_restarts + " restarts left" + (b.reset_at ? ", resets " + new Date(b.reset_at).toLocaleTimeString() : "");
    const who = " " + rt.id;
    const actions = el(
      "td",
      {},
      el("button", { type: "button", "data-action": "restore", onclick: () => act("runtime.restore", { id: rt.id }, "Restore" + who) }, "Restore"),
      el("button", { type: "button", "data-action": "reload", onclick: () => act("runtime.reload", { id: rt.id }, "Reload" + who) }, "Reload"),
      rt.desired === "running"
        ? el("button", { type: "button", "data-action": "stop", onclick: () => act("runtime.stop", { id: rt.id }, "Stop" + who) }, "Stop")
        : el("button", { type: "button", "data-action": "start", onclick: () => act("runtime.start", { id: rt.id }, "Start" + who) }, "Start"),
      el("button", { type: "button", "data-action": "logs", onclick: () => openLogs(rt.id) }, "Logs"),
    );
    body.append(
      el(
        "tr",
        { "data-runtime": rt.id, "data-state": rt.state },
        el("th", { scope: "row" }, rt.id),
        el("td", {}, el("span", { class: "sev-" + rt.status.severity, role: "status", "aria-label": rt.status.label + ". " + rt.status.aria_hint }, statusText(rt.status))),
        el("td", { "data-budget": String(b.remaining) }, budget),
        el("td", {}, rt.last_error || "—"),
        actions,
      ),
    );
  }
}

function render(state) {
  renderBadge(state.badge);
  renderMatrix(state.cells);
  renderRuntimes(state.runtimes);
  document.body.dataset.generated = state.generated;
}

$("logs-close").addEventListener("click", () => {
  if (logStream) logStream.close();
  logStream = undefined;
  $("logs-panel").hidden = true;
});

const live = $("live");
const events = new EventSource("/events");
events.addEventListener("state", (e) => {
  render(JSON.parse(e.data));
  live.textContent = "live";
  live.setAttribute("aria-label", "live: updates as the daemon changes");
});
events.addEventListener("error", () => {
  live.textContent = "reconnecting…";
  live.setAttribute("aria-label", "connection lost, reconnecting");
});
`;
