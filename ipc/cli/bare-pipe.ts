/**
 * The fast status's connection to the daemon (fast-status.ts), without node:net where it can be: libuv's
 * pipe handle straight from the bindings node:net itself is built on (`process.binding("pipe_wrap")`,
 * `"stream_wrap"`). node:net is outside Node's start-up snapshot and pulls in the whole streams stack
 * (some 25 modules, with stream's operators and pipeline); loading it and building a Socket cost ~4 ms
 * of a ~30 ms cold `rmx runtime status --json` on Node 20: most of what the CLI added to `node -e 0`.
 *
 * The bare handle is used only where it is known to work and to stay silent: not Windows (named pipes,
 * and no need), a Node major it was tested on (an untested one might warn on stderr, or have changed the
 * bindings' shape), `process.binding` not wrapped by --pending-deprecation (which prints DEP0111), no
 * permission model. Anywhere else, or when a binding does not look as expected, the same interface runs
 * over node:net. Either way the caller sees the same events, and the daemon the same bytes.
 */

/** What the caller hears about one connection; after `end`, nothing more. */
export interface PipeEvents {
  connected(): void;
  data(chunk: Buffer): void;
  /** The connection failed, errored or reached EOF. */
  end(): void;
}

export interface PipeClient {
  write(text: string): void;
  /** Closes the connection; no event follows. */
  destroy(): void;
}

/** The newest Node major the bare handle was tested on (Node 20 and 24 in CI; 21-23 share their bindings). */
export const BARE_PIPE_MAX_NODE_MAJOR = 24;

interface PipeHandle {
  onread: (buffer: ArrayBuffer | undefined) => void;
  connect(req: object, path: string): number;
  readStart(): number;
  readStop(): number;
  writeUtf8String(req: object, text: string): number;
  close(): void;
}

interface PipeWrap {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void };
  constants: { SOCKET: number };
}

interface StreamWrap {
  WriteWrap: new () => { handle?: PipeHandle; oncomplete?: (status: number) => void; async?: boolean };
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

interface Bindings {
  pipe: PipeWrap;
  stream: StreamWrap;
}

type Binding = ((name: string) => unknown) & { name: string };

/** The two bindings when the bare handle may be used here (see the header); else undefined. */
export function bareBindings(
  proc: {
    platform: string;
    versions: { node: string };
    binding?: Binding;
    permission?: unknown;
  } = process as never,
): Bindings | undefined {
  if (proc.platform === "win32" || proc.permission !== undefined) return undefined;
  const major = Number(proc.versions.node.split(".")[0]);
  if (!(major >= 20 && major <= BARE_PIPE_MAX_NODE_MAJOR)) return undefined;
  const binding = proc.binding;
  // --pending-deprecation replaces it with util.deprecate's wrapper, named `deprecated`, which warns.
  if (typeof binding !== "function" || binding.name !== "binding") return undefined;
  try {
    const pipe = binding("pipe_wrap") as Partial<PipeWrap>;
    const stream = binding("stream_wrap") as Partial<StreamWrap>;
    const ok =
      typeof pipe.Pipe === "function" &&
      typeof pipe.PipeConnectWrap === "function" &&
      typeof pipe.constants?.SOCKET === "number" &&
      typeof stream.WriteWrap === "function" &&
      stream.streamBaseState instanceof Int32Array &&
      typeof stream.kReadBytesOrError === "number" &&
      typeof stream.kArrayBufferOffset === "number" &&
      typeof stream.kLastWriteWasAsync === "number";
    return ok ? { pipe: pipe as PipeWrap, stream: stream as StreamWrap } : undefined;
  } catch {
    return undefined;
  }
}

function ignoreRead(): void {}

/** Connects with libuv's pipe handle (the bindings from `bareBindings`): what net.connect does, minus streams. */
export function connectBare(socketPath: string, events: PipeEvents, { pipe, stream }: Bindings): PipeClient {
  const handle = new pipe.Pipe(pipe.constants.SOCKET);
  const state = stream.streamBaseState;
  let open = true;
  // Requests in flight stay referenced until they complete, as node:net keeps its own.
  const inFlight = new Set<object>();
  const end = (): void => {
    if (!open) return;
    client.destroy();
    events.end();
  };
  const client: PipeClient = {
    write(text) {
      if (!open) return;
      const req = new stream.WriteWrap();
      req.handle = handle;
      req.async = false;
      req.oncomplete = (status) => {
        inFlight.delete(req);
        if (status < 0) end();
      };
      inFlight.add(req);
      if (handle.writeUtf8String(req, text) !== 0) return end();
      // Written at once (the usual case for one short line): no completion will come.
      if (state[stream.kLastWriteWasAsync] === 0) inFlight.delete(req);
    },
    destroy() {
      if (!open) return;
      open = false;
      // The binding asserts (aborts the process) on anything but a function here.
      handle.onread = ignoreRead;
      handle.readStop();
      handle.close();
    },
  };
  handle.onread = (buffer) => {
    // As node:net's onStreamRead reads it: bytes read (or a negative libuv error, EOF included) and
    // where they start in `buffer`, which is this read's own.
    const nread = state[stream.kReadBytesOrError] as number;
    if (nread > 0 && buffer !== undefined)
      events.data(Buffer.from(buffer, state[stream.kArrayBufferOffset] as number, nread));
    else if (nread < 0) end();
  };
  const req = new pipe.PipeConnectWrap();
  req.oncomplete = (status) => {
    inFlight.delete(req);
    if (!open) return;
    if (status < 0 || handle.readStart() !== 0) return end();
    events.connected();
  };
  inFlight.add(req);
  const error = handle.connect(req, socketPath);
  // A synchronous failure (a path too long): reported on the next turn, as node:net reports it.
  if (error !== 0) process.nextTick(end);
  return client;
}

/** The core's client waits this long to connect (ipc/client.ts). */
export const CONNECT_TIMEOUT_MS = 2000;

/**
 * The same over node:net, loaded only here, giving up on a connection not made in CONNECT_TIMEOUT_MS as
 * the core's client does: a Windows named pipe waits for a free instance. (A Unix socket's connect
 * never waits: it succeeds or fails at once, ECONNREFUSED, ENOENT, or EAGAIN with the daemon's backlog
 * full, and libuv reports it on the loop's next turn; the bare handle sets no timer, ~1 ms saved.)
 */
export function connectNet(socketPath: string, events: PipeEvents): PipeClient {
  const socket = process.getBuiltinModule("node:net").connect(socketPath);
  let open = true;
  const end = (): void => {
    if (!open) return;
    open = false;
    clearTimeout(timer);
    socket.destroy();
    events.end();
  };
  const timer = setTimeout(end, CONNECT_TIMEOUT_MS);
  socket.once("error", end);
  socket.once("close", end);
  socket.once("connect", () => {
    clearTimeout(timer);
    if (open) events.connected();
  });
  socket.on("data", (chunk: Buffer) => {
    if (open) events.data(chunk);
  });
  return {
    write: (text) => {
      if (open) socket.write(text);
    },
    destroy: () => {
      open = false;
      clearTimeout(timer);
      socket.destroy();
    },
  };
}

/** `socketPath` over the bare handle where it may be used, else over node:net. */
export function connectPipe(socketPath: string, events: PipeEvents): PipeClient {
  const bindings = bareBindings();
  if (bindings !== undefined) {
    try {
      return connectBare(socketPath, events, bindings);
    } catch {
      // A binding that looked right and is not: node:net still is.
    }
  }
  return connectNet(socketPath, events);
}
