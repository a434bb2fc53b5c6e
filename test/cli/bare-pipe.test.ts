/**
 * The fast status's connection (ipc/cli/bare-pipe.ts): when the bare pipe handle may be used, and that it
 * and the node:net one it stands in for behave alike against a real Unix socket (connect, bytes both
 * ways, EOF, failures, destroy).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BARE_PIPE_MAX_NODE_MAJOR,
  bareBindings,
  connectBare,
  connectNet,
  type PipeClient,
  type PipeEvents,
} from "../../ipc/cli/bare-pipe.js";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-bare-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Proc = NonNullable<Parameters<typeof bareBindings>[0]>;
const realBinding = (process as unknown as { binding: Proc["binding"] }).binding;
const proc = (over: Partial<Proc> = {}): Proc => ({
  platform: "linux",
  versions: { node: "20.19.0" },
  binding: realBinding,
  ...over,
});

describe("bareBindings: the bare handle only where it is known to work and stay silent", () => {
  it("is used on this Node (POSIX, a tested major), and on every tested major", () => {
    expect(process.platform).not.toBe("win32");
    expect(bareBindings()).toBeDefined();
    for (let major = 20; major <= BARE_PIPE_MAX_NODE_MAJOR; major++)
      expect(bareBindings(proc({ versions: { node: `${major}.1.0` } }))).toBeDefined();
  });

  it("not on an untested major", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: 19 }),
          fc.integer({ min: BARE_PIPE_MAX_NODE_MAJOR + 1, max: 999 }),
        ),
        fc.nat(),
        (major, minor) => bareBindings(proc({ versions: { node: `${major}.${minor}.0` } })) === undefined,
      ),
    );
  });

  it("not on Windows, under the permission model, or with --pending-deprecation's warning wrapper", () => {
    expect(bareBindings(proc({ platform: "win32" }))).toBeUndefined();
    expect(bareBindings(proc({ permission: {} }))).toBeUndefined();
    // util.deprecate's wrapper, as --pending-deprecation installs it: calling it would print DEP0111.
    const deprecated = Object.assign(function deprecated(name: string) {
      return realBinding?.(name);
    });
    expect(bareBindings(proc({ binding: deprecated }))).toBeUndefined();
  });

  it("not when process.binding is gone, throws, or answers something else", () => {
    expect(bareBindings(proc({ binding: undefined }))).toBeUndefined();
    const throwing = function binding(): never {
      throw new Error("No such module: pipe_wrap");
    };
    expect(bareBindings(proc({ binding: throwing }))).toBeUndefined();
    const empty = function binding(): unknown {
      return {};
    };
    expect(bareBindings(proc({ binding: empty }))).toBeUndefined();
    const noState = function binding(name: string): unknown {
      const real = realBinding?.(name) as Record<string, unknown>;
      return name === "stream_wrap" ? { ...real, streamBaseState: [0, 0] } : real;
    };
    expect(bareBindings(proc({ binding: noState }))).toBeUndefined();
  });
});

interface Heard {
  events: string[];
  bytes: Buffer[];
  ended: Promise<void>;
  connectedOnce: Promise<void>;
}

function listener(): { events: PipeEvents; heard: Heard } {
  let onEnd: () => void = () => {};
  let onConnected: () => void = () => {};
  const heard: Heard = {
    events: [],
    bytes: [],
    ended: new Promise<void>((r) => (onEnd = r)),
    connectedOnce: new Promise<void>((r) => (onConnected = r)),
  };
  return {
    heard,
    events: {
      connected: () => {
        heard.events.push("connected");
        onConnected();
      },
      data: (chunk) => {
        if (heard.events.at(-1) !== "data") heard.events.push("data");
        heard.bytes.push(Buffer.from(chunk));
      },
      end: () => {
        heard.events.push("end");
        onEnd();
      },
    },
  };
}

const TRANSPORTS: Array<[string, (socketPath: string, events: PipeEvents) => PipeClient]> = [
  [
    "bare",
    (p, e) => {
      const bindings = bareBindings();
      if (bindings === undefined) throw new Error("no bare bindings on this Node");
      return connectBare(p, e, bindings);
    },
  ],
  ["net", connectNet],
];

describe.each(TRANSPORTS)("the %s transport", (name, connect) => {
  let n = 0;
  const socketName = (what: string) => path.join(dir, `${name}-${what}-${++n}.sock`);

  async function server(
    onConn: (conn: net.Socket) => void,
  ): Promise<{ socket: string; close(): Promise<void> }> {
    const socket = socketName("srv");
    const srv = net.createServer((conn) => {
      conn.on("error", () => {});
      onConn(conn);
    });
    await new Promise<void>((resolve) => srv.listen(socket, resolve));
    return { socket, close: () => new Promise<void>((resolve) => srv.close(() => resolve())) };
  }

  it("writes the request, hears a large answer whole (many reads, multibyte text), then EOF", async () => {
    const answer = `${JSON.stringify({ note: "ünïcødé ✓".repeat(40_000) })}\n`;
    const received: Buffer[] = [];
    const srv = await server((conn) => {
      conn.on("data", (d) => {
        received.push(d);
        if (Buffer.concat(received).includes(10)) conn.end(answer);
      });
    });
    try {
      const { events, heard } = listener();
      const pipe = connect(srv.socket, events);
      await heard.connectedOnce;
      pipe.write('{"jsonrpc":"2.0","id":1,"method":"runtime.status"}\n');
      await heard.ended;
      expect(Buffer.concat(received).toString()).toBe('{"jsonrpc":"2.0","id":1,"method":"runtime.status"}\n');
      expect(Buffer.byteLength(answer)).toBeGreaterThan(4 * 65_536);
      expect(Buffer.concat(heard.bytes).toString("utf8")).toBe(answer);
      expect(heard.events).toEqual(["connected", "data", "end"]);
    } finally {
      await srv.close();
    }
  });

  it("no socket there, a file that is not a socket, a path too long: end, never connected", async () => {
    const notSocket = path.join(dir, `${name}-plain-file`);
    fs.writeFileSync(notSocket, "");
    for (const target of [socketName("missing"), notSocket, path.join(dir, "x".repeat(200))]) {
      const { events, heard } = listener();
      connect(target, events);
      await heard.ended;
      expect(heard.events, target).toEqual(["end"]);
    }
  });

  it("destroy: the connection closes and nothing more is heard", async () => {
    let closed: () => void = () => {};
    const serverSawClose = new Promise<void>((r) => (closed = r));
    const srv = await server((conn) => {
      conn.write("first\n");
      conn.on("close", closed);
    });
    try {
      const { events, heard } = listener();
      let pipe: PipeClient | undefined;
      const seen = new Promise<void>((resolve) => {
        pipe = connect(srv.socket, {
          ...events,
          data: (chunk) => {
            events.data(chunk);
            pipe?.destroy();
            resolve();
          },
        });
      });
      await seen;
      await serverSawClose;
      pipe?.write("ignored\n");
      pipe?.destroy();
      expect(heard.events).toEqual(["connected", "data"]);
      expect(Buffer.concat(heard.bytes).toString()).toBe("first\n");
    } finally {
      await srv.close();
    }
  });
});
