/**
 * The mounted routes by method and path, indexed once: a request looks its route up in a map instead of
 * testing every route in turn. The first route in the list that matches wins, as with a scan (a pattern
 * route listed before an exact one that also matches is found first).
 */
import type { Route } from "./observability-host.js";

interface Indexed {
  route: Route;
  at: number;
}

export class RouteTable {
  private readonly exact = new Map<string, Indexed>();
  private readonly patterns: { route: Route & { path: RegExp }; at: number }[] = [];

  constructor(routes: readonly Route[]) {
    routes.forEach((route, at) => {
      if (typeof route.path === "string") {
        const key = `${route.method} ${route.path}`;
        if (!this.exact.has(key)) this.exact.set(key, { route, at });
      } else this.patterns.push({ route: route as Route & { path: RegExp }, at });
    });
  }

  find(method: string | undefined, path: string): Route | undefined {
    const hit = this.exact.get(`${method} ${path}`);
    for (const p of this.patterns) {
      if (hit !== undefined && p.at > hit.at) break;
      if (p.route.method === method && p.route.path.test(path)) return p.route;
    }
    return hit?.route;
  }
}
