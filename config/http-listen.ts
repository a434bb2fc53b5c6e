/**
 * The gateway's listen address: `HOST:PORT`, `[IPv6]:PORT`, or `off`; and which Host header values and
 * bind addresses count as loopback (the DNS-rebinding guard and the "auth required beyond loopback" rule).
 */

export interface ListenAddress {
  host: string;
  port: number;
}

export const LISTEN_PATTERN = /^(off|\[[0-9A-Fa-f:.]+\]:\d{1,5}|[A-Za-z0-9.-]+:\d{1,5})$/;

/** Parses `HOST:PORT` / `[::1]:PORT` (port 0: any free port) or `off` (null); undefined when malformed. */
export function parseListen(text: string): ListenAddress | null | undefined {
  const value = text.trim();
  if (value === "off") return null;
  if (!LISTEN_PATTERN.test(value)) return undefined;
  const colon = value.lastIndexOf(":");
  const rawHost = value.slice(0, colon);
  const port = Number(value.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return undefined;
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost;
  return host === "" ? undefined : { host, port };
}

export function formatListen(address: ListenAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

/** A bind address reachable only from this machine. */
export function isLoopbackBind(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The name part of a Host header: `localhost:8765` → `localhost`, `[::1]:8765` → `::1`. */
export function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    return end < 0 ? value : value.slice(1, end);
  }
  const colon = value.indexOf(":");
  return colon < 0 ? value : value.slice(0, colon);
}

/**
 * Host headers the gateway answers: the loopback names (with or without a port) and `allowed` (names,
 * or `name:port`). A browser page on evil.example that rebinds its name to 127.0.0.1 still sends
 * `Host: evil.example`, so it gets 403.
 */
export function hostAllowed(header: string | undefined, allowed: readonly string[]): boolean {
  if (header === undefined || header === "") return false;
  const name = hostName(header);
  if (LOOPBACK_NAMES.has(name)) return true;
  const full = header.trim().toLowerCase();
  return allowed.some((a) => {
    const entry = a.toLowerCase();
    return entry === full || entry === name;
  });
}
