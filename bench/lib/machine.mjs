/** The machine a run happened on: printed above the table so figures are never read without it. */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";

function firstLine(command, args) {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")[0]
      .trim();
  } catch {
    return undefined;
  }
}

function loadAverage() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

export function describeMachine({ pm2Version, supervisordVersion }) {
  const cpus = os.cpus();
  let kernel = `${os.type()} ${os.release()}`;
  try {
    kernel = fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    kernel = `Linux ${kernel}`;
  } catch {}
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memory_gib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: kernel,
    node: process.version,
    node_extra_ca_certs: process.env.NODE_EXTRA_CA_CERTS ? "set" : "not set",
    pm2: pm2Version ?? "absent",
    supervisord: supervisordVersion ?? "absent",
    python: firstLine("python3", ["--version"]) ?? "absent",
    load_at_start: loadAverage(),
  };
}

export function currentLoad() {
  return loadAverage();
}
