// Adds lock entries for optional platform packages (biome's, just's native binaries for other OSes) that
// the registry reachable from this workplace does not serve, so npm cannot record them itself and
// `npm ci` would then reject the lock as out of sync. Each entry carries its os/cpu constraint: npm never
// fetches it on a machine it does not fit, and resolves it by name and version on one it does.
// Run after `npm install` changes the lock: `node .ci/lock-platforms.mjs`.
import fs from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, "utf8"));
const OS = {
  android: "android",
  darwin: "darwin",
  linux: "linux",
  win32: "win32",
  windows: "win32",
  freebsd: "freebsd",
};
const CPU = {
  arm64: "arm64",
  x64: "x64",
  armv7: "arm",
  arm: "arm",
  loong64: "loong64",
  riscv64: "riscv64",
  ia32: "ia32",
};
let added = 0;
for (const [where, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const words = name.split("/").pop().split("-");
    const os = words.map((w) => OS[w]).find(Boolean);
    const cpu = words.map((w) => CPU[w]).find(Boolean);
    if (!os || !cpu)
      throw new Error(`${name} (optional dependency of ${where || "the root"}): cannot tell its platform`);
    const entry = {
      version,
      cpu: [cpu],
      ...(pkg.dev ? { dev: true } : {}),
      license: pkg.license,
      optional: true,
      os: [os],
    };
    if (words.includes("musl")) entry.libc = ["musl"];
    lock.packages[key] = entry;
    added += 1;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b, "en")),
);
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-platforms: ${added} platform entr${added === 1 ? "y" : "ies"} added`);
