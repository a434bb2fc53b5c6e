/**
 * node:https on first use. Backends are local http servers; loading https pulls in tls (about 1 MiB of
 * the daemon's resident memory) for the rare `remote` runtime or https endpoint that needs it.
 */
import type * as Https from "node:https";

let https: typeof Https | undefined;

export function lazyHttps(): typeof Https {
  https ??= process.getBuiltinModule("node:https");
  return https;
}

/** An https.Agent made with `options` on first use. */
export function lazyHttpsAgent(options: Https.AgentOptions): () => Https.Agent {
  let agent: Https.Agent | undefined;
  return () => {
    agent ??= new (lazyHttps().Agent)(options);
    return agent;
  };
}
