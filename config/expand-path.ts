import path from "node:path";

/** `~` → home; relative → against baseDir. */
export function expandPath(p: string, ctx: { baseDir: string; home: string }): string {
  if (p === "~") return ctx.home;
  if (p.startsWith("~/")) return path.join(ctx.home, p.slice(2));
  return path.resolve(ctx.baseDir, p);
}
