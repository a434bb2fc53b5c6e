/** Turns the collected samples into the results table, the targets verdicts and bench/results.md. */
import { summarize } from "./stats.mjs";

const OURS = "rmxd";

function fmt(value, unit = "ms") {
  if (value === undefined || Number.isNaN(value)) return "—";
  // Sub-millisecond round trips would all read 0.0x ms: show microseconds instead.
  if (unit === "ms" && Math.abs(value) < 1) return `${Math.round(value * 1000)} µs`;
  const abs = Math.abs(value);
  const digits = abs < 10 ? 2 : abs < 100 ? 1 : 0;
  return `${value.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
}

function ratio(a, b) {
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) || b === 0) return undefined;
  return a / b;
}

function fmtRatio(r) {
  return r === undefined ? "—" : `${r.toFixed(2)}×`;
}

/** One measure: subjects in order, the first named `rmxd` is the numerator of every ratio. */
function block(rows, measure, unit, subjects) {
  const present = subjects.filter((s) => s.samples && s.samples.length > 0);
  const ours = present.find((s) => s.name === OURS);
  const oursMedian = ours ? summarize(ours.samples).median : undefined;
  for (const s of present) {
    const st = summarize(s.samples);
    rows.push({
      measure,
      subject: s.label ?? s.name,
      n: st.n,
      median: fmt(st.median, unit),
      p95: st.n > 1 ? fmt(st.p95, unit) : "—",
      p99: st.n > 1 ? fmt(st.p99, unit) : "—",
      ratio: s.name === OURS || s.noRatio ? "" : fmtRatio(ratio(oursMedian, st.median)),
    });
  }
}

const PEERS = [OURS, "PM2", "supervisord"];

/** The peers present in one measure's results, in table order. */
function peersOf(data) {
  return PEERS.filter((name) => data?.[name] !== undefined);
}

/** Builds { rows, targets } from the results object of run.mjs. */
export function buildReport(results) {
  const rows = [];
  const r = results;
  if (r.respawn) {
    block(rows, "Crash → respawn (new child running)", "ms", [
      ...peersOf(r.respawn).map((name) => ({ name, samples: r.respawn[name].running })),
      { name: "floor", label: "floor: bare spawn loop", samples: r.respawn.floor.running },
    ]);
    block(rows, "Crash → new process born (before Node boots)", "ms", [
      ...peersOf(r.respawn).map((name) => ({ name, samples: r.respawn[name].born })),
      { name: "floor", label: "floor: bare spawn loop", samples: r.respawn.floor.born },
    ]);
  }
  for (const fleet of [r.small, r.large]) {
    if (!fleet) continue;
    block(rows, `Cold status CLI, ${fleet.size} children`, "ms", [
      ...peersOf(fleet).map((name) => ({ name, label: statusLabel(name), samples: fleet[name].status })),
      { name: "floor", label: "floor: node -e 0", samples: r.nodeFloor },
    ]);
  }
  if (r.small) {
    const subjects = [];
    const kib = (bytes) => (bytes === undefined ? "" : ` (${(bytes / 1024).toFixed(1)} KiB answer)`);
    if (r.small.rmxd?.list) {
      subjects.push({
        name: OURS,
        label: `rmxd: client runtime.status${kib(r.small.rmxd.answerBytes)}`,
        samples: r.small.rmxd.list,
      });
    }
    if (r.small.PM2?.list) {
      subjects.push({
        name: "PM2",
        label: `PM2: pm2.list()${kib(r.small.PM2.answerBytes)}`,
        samples: r.small.PM2.list,
      });
    }
    if (r.echo) subjects.push({ name: "echo", label: "floor: client ↔ bare net echo", samples: r.echo });
    if (r.canned) {
      subjects.push({
        name: "canned",
        label: "floor: client ↔ bare server answering a copy of the status",
        samples: r.canned,
      });
    }
    if (r.small.rmxd?.hello) {
      subjects.push({
        name: "hello",
        label: "rmxd: client daemon.hello",
        samples: r.small.rmxd.hello,
        noRatio: true,
      });
    }
    block(rows, `Round trip, one connection (${r.small.size} children)`, "ms", subjects);
  }
  if (r.large) {
    const subjects = peersOf(r.large).map((name) => ({ name, samples: r.large[name].startup }));
    if (r.large.rmxd?.startupReady?.length) {
      subjects.push({
        name: "ready",
        label: "rmxd: all `ready` (health-checked)",
        samples: r.large.rmxd.startupReady,
        noRatio: true,
      });
    }
    block(rows, `Start-up, ${r.large.size} children, nothing → all listening`, "ms", subjects);
  }
  if (r.footprint) {
    const floor = r.footprint.floor ? [{ name: "floor", label: "floor: idle node process" }] : [];
    const fp = (name) => (name === "floor" ? r.footprint.floor : r.footprint[name]);
    const subjects = [...peersOf(r.footprint).map((name) => ({ name })), ...floor];
    const title = `${r.footprint.size} children, ${Math.round(r.footprint.seconds)} s`;
    block(
      rows,
      `Daemon RSS, ${title}`,
      "MiB",
      subjects.map((s) => ({ ...s, samples: fp(s.name).rssMiB })),
    );
    block(
      rows,
      `Daemon CPU, ${title}`,
      "%",
      subjects.map((s) => ({ ...s, samples: [fp(s.name).cpuPercent] })),
    );
  }
  if (r.events) {
    block(rows, `Events, ${r.events.subscribers} subscribers`, "ms", [
      { name: "per", label: "rmxd: each subscriber", samples: r.events.latencies, noRatio: true },
      { name: "all", label: "rmxd: last subscriber of each change", samples: r.events.all, noRatio: true },
      { name: "spread", label: "rmxd: first → last subscriber", samples: r.events.spread, noRatio: true },
    ]);
  }
  return { rows, targets: targets(r) };
}

function statusLabel(name) {
  if (name === OURS) return "rmx runtime status --json";
  if (name === "PM2") return "pm2 jlist";
  if (name === "supervisord") return "supervisorctl status";
  return name;
}

function med(samples) {
  return samples && samples.length > 0 ? summarize(samples).median : undefined;
}

function verdict(value, limit, strict = false) {
  if (value === undefined) return "n/a";
  return (strict ? value < limit : value <= limit) ? "met" : "NOT met";
}

/**
 * A ratio target is out of reach when the floor every peer shares (Node starting the child or the CLI)
 * already exceeds it: say so next to the verdict, with the floor's own ratio.
 */
function reach(floor, peer, limit) {
  const x = ratio(floor, peer);
  return x !== undefined && x > limit
    ? ` (out of reach here: the floor alone is ${fmtRatio(x)} — see the floor rows)`
    : "";
}

function targets(r) {
  const out = [];
  const ratioTarget = (name, ours, peer, limit, figures, remark = "") => {
    const x = ratio(ours, peer);
    const v = verdict(x, limit);
    out.push({
      target: name,
      figures,
      value: fmtRatio(x),
      goal: `≤ ${limit}×`,
      verdict: v === "met" ? v : v + remark,
    });
  };
  if (r.respawn) {
    const ours = med(r.respawn.rmxd?.running);
    const pm2 = med(r.respawn.PM2?.running);
    const floor = med(r.respawn.floor?.running);
    ratioTarget("Respawn vs PM2", ours, pm2, 0.5, `${fmt(ours)} vs ${fmt(pm2)}`, reach(floor, pm2, 0.5));
    ratioTarget("Respawn vs spawn floor", ours, floor, 3, `${fmt(ours)} vs ${fmt(floor)}`);
  }
  for (const fleet of [r.small, r.large]) {
    if (!fleet) continue;
    const ours = med(fleet.rmxd?.status);
    const pm2 = med(fleet.PM2?.status);
    ratioTarget(
      `Cold CLI status vs pm2 jlist (${fleet.size} children)`,
      ours,
      pm2,
      0.3,
      `${fmt(ours)} vs ${fmt(pm2)}`,
      reach(med(r.nodeFloor), pm2, 0.3),
    );
  }
  if (r.small && r.echo) {
    const ours = med(r.small.rmxd?.list);
    const floor = med(r.echo);
    ratioTarget(
      "RPC round trip vs echo floor",
      ours,
      floor,
      2,
      `${fmt(ours)} vs ${fmt(floor)}`,
      reach(med(r.canned), floor, 2),
    );
  }
  if (r.footprint) {
    const ours = med(r.footprint.rmxd?.rssMiB);
    const pm2 = med(r.footprint.PM2?.rssMiB);
    ratioTarget(
      "Daemon RSS vs PM2",
      ours,
      pm2,
      0.7,
      `${fmt(ours, "MiB")} vs ${fmt(pm2, "MiB")}`,
      reach(med(r.footprint.floor?.rssMiB), pm2, 0.7),
    );
  }
  if (r.events) {
    const p99 = summarize(r.events.latencies).p99;
    out.push({
      target: "Event fan-out p99",
      figures: `p50 ${fmt(summarize(r.events.latencies).median)}, p99 ${fmt(p99)}`,
      value: fmt(p99),
      goal: "< 10 ms",
      verdict: verdict(p99, 10, true),
    });
  }
  return out;
}

function table(headers, rows) {
  const lines = [`| ${headers.join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

export function renderMarkdown({ results, machine, meta }) {
  const { rows, targets: t } = buildReport(results);
  const machineRows = Object.entries(machine).map(([k, v]) => [k.replaceAll("_", " "), String(v)]);
  const parts = [
    "# runtime-matrix benchmarks",
    "",
    `Run ${meta.date}; \`BENCH_SCALE=${meta.scale}\`${meta.scale === 1 ? " (full size)" : " — **a scaled-down run: counts and durations are not the issue's; do not quote these figures as the benchmark**"}. ` +
      `Load average at start ${machine.load_at_start}, at end ${meta.loadAtEnd}.`,
    "",
    "## Machine",
    "",
    table(["", ""], machineRows),
    "",
    `Every peer and ours ran in this one run with the same environment (the bench's own, plus a tag used to ` +
      `find leftovers); NODE_EXTRA_CA_CERTS was **${machine.node_extra_ca_certs}** for all of them ` +
      "(when set, it roughly doubles each Node process's start-up, children and CLIs alike).",
    "",
    "## Results",
    "",
    "Ratios are ours ÷ that row's median (below 1 means we are faster / smaller).",
    "",
    table(
      ["Measure", "Subject", "n", "median", "p95", "p99", "ours ÷ this"],
      rows.map((x) => [x.measure, x.subject, String(x.n), x.median, x.p95, x.p99, x.ratio]),
    ),
    "",
    "## Targets (issue 7)",
    "",
    table(
      ["Target", "Figures (medians)", "Value", "Goal", "Verdict"],
      t.map((x) => [x.target, x.figures, x.value, x.goal, x.verdict]),
    ),
    "",
    "## How it was measured",
    "",
    ...meta.notes.map((n) => `- ${n}`),
    "",
  ];
  return parts.join("\n");
}
