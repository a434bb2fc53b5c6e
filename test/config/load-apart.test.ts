/**
 * config/load-apart.ts: rmxd loads its configuration in a child (dist/bin/rmx-config.cjs) and must get
 * exactly what an in-process load gives: the same resolved config, the same errors with the same codes
 * and data. A loader that is missing, hangs, answers nonsense or cannot start is INTERNAL naming it.
 */
import { chmod, copyFile, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/load.js";
import { configLoaderEntry, loadConfigApart } from "../../config/load-apart.js";
import { parseLoaderRequest } from "../../config/loader-wire.js";
import type { ConfigLocation } from "../../config/locate.js";
import { makeConfigHome, rejection } from "./support.js";

const EXAMPLE = path.join(import.meta.dirname, "example.yaml");

let dir: string;
let home: string;

beforeEach(async () => {
  ({ dir, home } = await makeConfigHome("rmx-load-apart-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text, { mode: 0o600 });
  return p;
}

/** A stand-in loader: a script run in the loader's place. */
const loader = (body: string) => file(`loader-${Math.random().toString(36).slice(2)}.cjs`, body);

describe("loadConfigApart against the real loader", () => {
  it("runs the bundle's loader, dist/bin/rmx-config.cjs", () => {
    expect(configLoaderEntry()).toMatch(/dist[\\/]bin[\\/]rmx-config\.cjs$/);
  });

  it("the embedded default and the reference example resolve exactly as they do in-process", async () => {
    const example = path.join(dir, "example.yaml");
    await copyFile(EXAMPLE, example);
    await chmod(example, 0o600);
    const locations: ConfigLocation[] = [{ origin: "embedded" }, { origin: "flag", path: example }];
    for (const loc of locations) {
      const inProcess = await loadConfig(loc, { home });
      const apart = await loadConfigApart(loc, { home });
      expect(apart).toStrictEqual(inProcess);
      // JSON carries the resolved config whole: nothing in it is lost or changed by a round trip.
      expect(JSON.parse(JSON.stringify(inProcess))).toStrictEqual(inProcess);
    }
  });

  it("CONFIG_INVALID keeps its message and every issue with its line and column", async () => {
    const bad = await file(
      "bad.yaml",
      "runtimes:\n  - id: a\n    adapter: nope\n  - { id: b, adapter: llama-stub, port: -1 }\n",
    );
    const inProcess = await rejection(loadConfig({ origin: "flag", path: bad }, { home }));
    const apart = await rejection(loadConfigApart({ origin: "flag", path: bad }, { home }));
    expect(apart.code).toBe("CONFIG_INVALID");
    expect(apart.message).toBe(inProcess.message);
    expect(apart.data).toStrictEqual(inProcess.data);
    expect(apart.message).toContain(`${bad}:3:`);
  });

  it("a YAML syntax error and a missing file keep their codes", async () => {
    const broken = await file("broken.yaml", "runtimes: [\n");
    expect((await rejection(loadConfigApart({ origin: "flag", path: broken }))).code).toBe("CONFIG_INVALID");
    const gone = path.join(dir, "gone.yaml");
    const missing = await rejection(loadConfigApart({ origin: "env", path: gone }));
    expect(missing.code).toBe("CONFIG_NOT_FOUND");
    expect(missing.message).toBe(`config file ${gone} (from RMX_CONFIG) does not exist`);
    expect(missing.data).toStrictEqual({ path: gone, origin: "env" });
  });

  it.skipIf(process.platform === "win32")(
    "a config file others can write is refused in the loader as in-process",
    async () => {
      const open = await file("open.yaml", "runtimes: []\n");
      await chmod(open, 0o666);
      const inProcess = await rejection(loadConfig({ origin: "flag", path: open }));
      const apart = await rejection(loadConfigApart({ origin: "flag", path: open }));
      expect(apart.code).toBe("PATH_UNTRUSTED");
      expect(apart.message).toBe(inProcess.message);
    },
  );
});

describe("loadConfigApart when the loader fails", () => {
  const loc: ConfigLocation = { origin: "embedded" };

  it("a missing loader is INTERNAL naming its file and Node's error", async () => {
    const entry = path.join(dir, "no-such-loader.cjs");
    const err = await rejection(loadConfigApart(loc, { entry }));
    expect(err.code).toBe("INTERNAL");
    expect(err.message).toContain(`config loader ${entry} exited with code 1 without an answer`);
    expect(err.message).toMatch(/Cannot find module/);
    expect(err.data).toStrictEqual({ loader: entry });
  });

  it("a loader that answers nonsense, or dies of a signal, is INTERNAL saying so", async () => {
    const junk = await loader('process.stdout.write("not json\\n");');
    expect((await rejection(loadConfigApart(loc, { entry: junk }))).message).toBe(
      `config loader ${junk} exited with code 0 without an answer`,
    );
    const killed = await loader('process.kill(process.pid, "SIGKILL");');
    expect((await rejection(loadConfigApart(loc, { entry: killed }))).message).toBe(
      `config loader ${killed} was killed by SIGKILL without an answer`,
    );
  });

  it("a loader that never answers is killed at the timeout: INTERNAL, and its process is gone", async () => {
    const pidFile = path.join(dir, "pid");
    const hang = await loader(
      `require("node:fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1e6);`,
    );
    const err = await rejection(loadConfigApart(loc, { entry: hang, timeoutMs: 300 }));
    expect(err.message).toBe(`config loader ${hang} did not answer within 300 ms`);
    const pid = Number(await readFile(pidFile, "utf8"));
    // Rejected on the child's close, after it was reaped.
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("an error code the daemon does not know becomes INTERNAL with the loader's message", async () => {
    const odd = await loader(
      'process.stdout.write(JSON.stringify({ ok: false, error: { code: "NOPE", message: "odd" } }));',
    );
    const err = await rejection(loadConfigApart(loc, { entry: odd }));
    expect([err.code, err.message]).toEqual(["INTERNAL", "odd"]);
  });

  it("the loader runs without NODE_OPTIONS and NODE_EXTRA_CA_CERTS, with the rest of the environment", async () => {
    const env = await loader(
      `const { NODE_OPTIONS, NODE_EXTRA_CA_CERTS, RMX_TEST_MARK } = process.env;
       process.stdout.write(JSON.stringify({ ok: false, error: { code: "INTERNAL", message: JSON.stringify({ NODE_OPTIONS, NODE_EXTRA_CA_CERTS, RMX_TEST_MARK }) } }));`,
    );
    const err = await rejection(
      loadConfigApart(loc, {
        entry: env,
        env: {
          ...process.env,
          NODE_OPTIONS: "--inspect=127.0.0.1:1",
          NODE_EXTRA_CA_CERTS: "/x.pem",
          RMX_TEST_MARK: "m",
        },
      }),
    );
    expect(JSON.parse(err.message)).toStrictEqual({ RMX_TEST_MARK: "m" });
  });
});

describe("the loader's request", () => {
  it("takes a location and a home, and refuses anything else by name", () => {
    expect(parseLoaderRequest('{"location":{"origin":"flag","path":"/x.yaml"},"home":"/h"}')).toStrictEqual({
      location: { origin: "flag", path: "/x.yaml" },
      home: "/h",
    });
    expect(parseLoaderRequest('{"location":{"origin":"embedded"}}')).toStrictEqual({
      location: { origin: "embedded" },
    });
    expect(() => parseLoaderRequest("[]")).toThrow("the request has no location");
    expect(() => parseLoaderRequest("1")).toThrow("not a JSON object");
    expect(() => parseLoaderRequest('{"location":{"origin":"web"}}')).toThrow("origin is not known");
    expect(() => parseLoaderRequest('{"location":{"origin":"flag","path":1}}')).toThrow(
      "path is not a string",
    );
    expect(() => parseLoaderRequest('{"location":{"origin":"flag"},"home":2}')).toThrow(
      "home is not a string",
    );
    expect(() => parseLoaderRequest("{")).toThrow(SyntaxError);
  });
});
