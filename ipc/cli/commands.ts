/**
 * The registration table: every `rmx` command, its flags and usage, and the module that runs it.
 * Modules are loaded with `import()` only when their command runs, so `rmx` starts fast and never loads
 * what it does not need. To add a command (matrix, hardware, models, pin, lease, chat, reload, switch),
 * write `commands/<name>.ts` exporting `run` and add one entry here.
 */
import type { CommandSpec, OptionSpec } from "./command-spec.js";

export type { ArgumentSpec, CommandRun, CommandSpec, OptionSpec, ParsedCommandArgs } from "./command-spec.js";

const id: OptionSpec = { type: "string", required: true, value: "RT", description: "runtime id" };
const wait: OptionSpec = {
  type: "boolean",
  description: "wait until the runtime settles and report how it ended",
};
const timeout: OptionSpec = {
  type: "string",
  value: "DURATION",
  description: "how long --wait waits (60s, 2m, 500ms: a unit is required; default 60s)",
};
const serviceScope: Record<string, OptionSpec> = {
  user: { type: "boolean", description: "the per-user service (default)" },
  system: { type: "boolean", description: "the system-wide service (needs root)" },
  "target-dir": {
    type: "string",
    value: "DIR",
    description: "put the service file in DIR instead of the standard place",
  },
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    path: ["runtime", "status"],
    summary: "Show every runtime: state, status, uptime and restart budget",
    options: {
      watch: { type: "boolean", description: "redraw on every runtime event until Ctrl-C" },
    },
    load: () => import("./commands/runtime-status.js"),
  },
  {
    path: ["runtime", "restore"],
    summary: "Restore a runtime: restart it under its restart budget",
    options: {
      id,
      "no-restart": { type: "boolean", description: "clear the failure without restarting" },
      "reset-budget": { type: "boolean", description: "forget the restarts counted in the budget window" },
      wait,
      timeout,
    },
    load: () => import("./commands/runtime-restore.js"),
  },
  {
    path: ["runtime", "start"],
    summary: "Start a runtime",
    options: { id, wait, timeout },
    load: () => import("./commands/runtime-start-stop.js"),
  },
  {
    path: ["runtime", "stop"],
    summary: "Stop a runtime",
    options: { id, wait, timeout },
    load: () => import("./commands/runtime-start-stop.js"),
  },
  {
    path: ["runtime", "logs"],
    summary: "Print a runtime's last log lines",
    options: {
      id,
      lines: { type: "string", short: "n", value: "N", description: "how many lines (default 50)" },
      follow: { type: "boolean", short: "f", description: "keep printing new lines until Ctrl-C" },
    },
    load: () => import("./commands/runtime-logs.js"),
  },
  {
    path: ["runtime", "reload"],
    summary: "Reload a runtime, optionally on another model (checked first: exists, GGUF, fits)",
    options: {
      id,
      model: {
        type: "string",
        value: "MODEL",
        description: "model id or GGUF path (default: its current model)",
      },
      wait,
      timeout,
    },
    notes: ["The change is kept in memory until the next config reload; no restart budget is used."],
    load: () => import("./commands/runtime-reload.js"),
  },
  {
    path: ["runtime", "switch"],
    summary: "Move a runtime to another sandbox or hardware (checked first)",
    options: {
      id,
      sandbox: { type: "string", value: "KIND", description: "none, bwrap or systemd-run" },
      hardware: { type: "string", value: "HW", description: "cpu or gpu:N" },
      wait,
      timeout,
    },
    notes: ["The change is kept in memory until the next config reload; no restart budget is used."],
    load: () => import("./commands/runtime-switch.js"),
  },
  {
    path: ["events"],
    summary: "Print daemon events as they happen, until Ctrl-C",
    options: {
      topic: {
        type: "string",
        multiple: true,
        value: "PATTERN",
        description: "topic glob, repeatable (e.g. runtime.*; default all)",
      },
    },
    load: () => import("./commands/events.js"),
  },
  {
    path: ["pin", "set"],
    summary: "Pin an agent or project to cells, in order of preference",
    options: {
      agent: { type: "string", value: "NAME", description: "the agent the pin is for" },
      project: { type: "string", value: "NAME", description: "the project the pin is for" },
    },
    args: [
      {
        name: "PATTERN",
        required: true,
        variadic: true,
        description: "cell pattern: MODEL[@HARDWARE[/SANDBOX]] with * globs, or remote:MODEL",
      },
    ],
    notes: ["Without --agent and --project the pin is the default for everyone."],
    load: () => import("./commands/pin.js"),
  },
  {
    path: ["pin", "list"],
    summary: "List the pins",
    options: {},
    load: () => import("./commands/pin.js"),
  },
  {
    path: ["pin", "clear"],
    summary: "Remove the pin of an agent or project (or the default pin)",
    options: {
      agent: { type: "string", value: "NAME", description: "the agent whose pin is removed" },
      project: { type: "string", value: "NAME", description: "the project whose pin is removed" },
    },
    load: () => import("./commands/pin.js"),
  },
  {
    path: ["resolve"],
    summary: "Show which cell would serve a request, and why every other cell was passed over",
    options: {
      agent: { type: "string", value: "NAME", description: "who asks (selects the pin)" },
      project: { type: "string", value: "NAME", description: "the project asking (selects the pin)" },
      model: { type: "string", value: "MODEL", description: "only cells serving this model" },
      mode: { type: "string", value: "MODE", description: "quick, balanced (default), deep or verified" },
      "slo-ms": { type: "string", value: "N", description: "skip cells whose recent p95 exceeds N ms" },
      need: { type: "string", multiple: true, value: "CAP", description: "a capability the cell must offer" },
    },
    load: () => import("./commands/resolve.js"),
  },
  {
    path: ["chat"],
    summary: "Ask a model through the matrix; prints the answer and the cell that served it",
    options: {
      model: { type: "string", value: "MODEL", description: "only cells serving this model" },
      agent: { type: "string", value: "NAME", description: "who asks (selects the pin)" },
      project: { type: "string", value: "NAME", description: "the project asking (selects the pin)" },
      mode: { type: "string", value: "MODE", description: "quick, balanced (default), deep or verified" },
      "max-tokens": { type: "string", value: "N", description: "longest answer, in tokens" },
      stream: { type: "boolean", description: "print the answer as it is generated" },
      timeout: { type: "string", value: "DURATION", description: "give up after this long (default 120s)" },
    },
    args: [
      { name: "MESSAGE", required: true, variadic: true, description: "the message (words are joined)" },
    ],
    load: () => import("./commands/chat.js"),
  },
  {
    path: ["lease", "acquire"],
    summary: "Acquire a lease on a cell or runtime for a capability",
    options: {
      target: { type: "string", required: true, value: "CELL|RT", description: "cell key or runtime id" },
      capability: { type: "string", required: true, value: "CAP", description: "gpu, slot, sandbox:KIND, …" },
      ttl: {
        type: "string",
        required: true,
        value: "DURATION",
        description: "how long it holds (e.g. 30s, 5m)",
      },
      holder: { type: "string", required: true, value: "NAME", description: "who holds it" },
      wait: {
        type: "string",
        value: "DURATION",
        description: "queue this long for a free slot (default: fail at once)",
      },
    },
    load: () => import("./commands/lease.js"),
  },
  {
    path: ["lease", "renew"],
    summary: "Renew a lease (default: for its original TTL)",
    options: {
      id: { type: "string", required: true, value: "LEASE", description: "lease id" },
      ttl: { type: "string", value: "DURATION", description: "new TTL from now" },
    },
    load: () => import("./commands/lease.js"),
  },
  {
    path: ["lease", "release"],
    summary: "Release a lease",
    options: { id: { type: "string", required: true, value: "LEASE", description: "lease id" } },
    load: () => import("./commands/lease.js"),
  },
  {
    path: ["lease", "list"],
    summary: "List the live leases",
    options: { target: { type: "string", value: "CELL|RT", description: "only leases on this target" } },
    load: () => import("./commands/lease.js"),
  },
  {
    path: ["http", "token"],
    summary: "Print the HTTP gateway's bearer token (the API key for OpenAI clients)",
    options: {
      url: { type: "boolean", description: "also print the base URL (http://HOST:PORT/v1) on a second line" },
    },
    load: () => import("./commands/http.js"),
  },
  {
    path: ["config", "schema"],
    summary: "Print the JSON Schema of the configuration file",
    options: {},
    load: () => import("./commands/config.js"),
  },
  {
    path: ["config", "check"],
    summary: "Validate a configuration file (default: the one rmxd would load)",
    options: {},
    args: [{ name: "FILE", required: false, description: "configuration file to check" }],
    load: () => import("./commands/config.js"),
  },
  {
    path: ["matrix"],
    summary:
      "Show the runtime matrix: models × hardware × sandboxes, one grid per capability, each cell's state and rate",
    options: {
      list: { type: "boolean", description: "one sentence per cell instead of the grid (screen readers)" },
    },
    load: () => import("./commands/matrix.js"),
  },
  {
    path: ["hardware"],
    summary: "Show the hardware inventory, the latest sample and each runtime's usage",
    options: {
      refresh: { type: "boolean", description: "collect the inventory again and sample now" },
    },
    load: () => import("./commands/hardware.js"),
  },
  {
    path: ["models"],
    summary: "List known models: GGUF facts, estimated memory need, fit per hardware id",
    options: {},
    load: () => import("./commands/models.js"),
  },
  {
    path: ["models", "inspect"],
    summary: "Read a GGUF file here (no daemon needed): facts, estimated need, fit on this machine",
    options: {
      context: {
        type: "string",
        value: "N",
        description: "context size for the estimate (default: the model's, at most 4096)",
      },
    },
    args: [{ name: "FILE", required: true, description: "the GGUF file" }],
    load: () => import("./commands/models.js"),
  },
  {
    path: ["version"],
    summary: "Print the CLI version and, when it runs, the daemon's",
    options: {},
    load: () => import("./commands/version.js"),
  },
  {
    path: ["service", "install"],
    summary: "Install rmxd as a systemd (Linux) or launchd (macOS) service",
    options: {
      ...serviceScope,
      "dry-run": { type: "boolean", description: "print the service file, write nothing" },
      force: { type: "boolean", description: "overwrite a service file rmx did not write" },
      config: { type: "string", value: "FILE", description: "configuration file rmxd is started with" },
      "run-as": { type: "string", value: "USER", description: "--system only: account rmxd runs as" },
      group: {
        type: "string",
        value: "GROUP",
        description: "--system only: group allowed to use the socket",
      },
    },
    load: () => import("./commands/service.js"),
  },
  {
    path: ["service", "uninstall"],
    summary: "Stop, disable and remove the rmxd service",
    options: {
      ...serviceScope,
      force: { type: "boolean", description: "remove a service file rmx did not write" },
    },
    load: () => import("./commands/service.js"),
  },
  {
    path: ["dashboard"],
    summary: "Print a one-time login URL to the dashboard (on the gateway's listener); --open opens it",
    options: {
      open: {
        type: "boolean",
        description: "open it: --opener, else $BROWSER, else xdg-open / open / the URL handler",
      },
      opener: {
        type: "string",
        value: "CMD",
        description: "opener command (URL appended, or in place of %s); implies --open",
      },
    },
    notes: [
      "Exit 1 with BROWSER_OPEN_FAILED when no opener could be started; the URL is printed first, to open by hand.",
    ],
    load: () => import("./commands/dashboard.js"),
  },
  {
    path: ["fleet"],
    summary: "Show the runtime matrix across nodes, from the Prometheus server that scrapes every rmxd",
    options: {
      prometheus: { type: "string", required: true, value: "URL", description: "Prometheus base URL" },
    },
    load: () => import("./commands/fleet.js"),
  },
  {
    path: ["service", "status"],
    summary: "Show whether the rmxd service is installed, ours, and active",
    options: serviceScope,
    load: () => import("./commands/service.js"),
  },
];

/** The command whose path is the longest prefix of `words`. */
export function findCommand(words: readonly string[]): CommandSpec | undefined {
  let best: CommandSpec | undefined;
  for (const spec of COMMANDS) {
    if (spec.path.length > words.length) continue;
    if (!spec.path.every((word, i) => words[i] === word)) continue;
    if (best === undefined || spec.path.length > best.path.length) best = spec;
  }
  return best;
}

/** Commands under a group word (`runtime` → status, restore, …). */
export function commandsUnder(group: string): CommandSpec[] {
  return COMMANDS.filter((spec) => spec.path.length > 1 && spec.path[0] === group);
}
