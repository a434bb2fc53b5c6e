/** The header badge: readiness, smallest restart headroom, next reset; as facts, text and SVG. */
import type { StatusSummary } from "../../ipc/protocol/runtime.js";

export type BadgeLevel = "ok" | "warn" | "error";

export interface BadgeFacts {
  ready: number;
  total: number;
  min_restarts_left?: number;
  next_reset?: string;
  level: BadgeLevel;
  /** Symbol shown with the colour, so colour never carries meaning alone. */
  symbol: "✓" | "!" | "✗";
  /** "2/3 ready · 1 restart left · next reset 12:09:41", for screen readers and the SVG's title. */
  text: string;
}

const SYMBOLS = { ok: "✓", warn: "!", error: "✗" } as const;

export function badgeFacts(summary: StatusSummary, formatTime: (iso: string) => string): BadgeFacts {
  const left = summary.min_restarts_left;
  const level: BadgeLevel =
    summary.total > 0 && summary.ready === 0
      ? "error"
      : summary.attention_required || summary.ready < summary.total
        ? "warn"
        : "ok";
  const parts = [`${summary.ready}/${summary.total} ready`];
  if (left !== undefined) parts.push(`${left} ${left === 1 ? "restart" : "restarts"} left`);
  if (summary.next_reset !== undefined) parts.push(`next reset ${formatTime(summary.next_reset)}`);
  return {
    ready: summary.ready,
    total: summary.total,
    ...(left !== undefined ? { min_restarts_left: left } : {}),
    ...(summary.next_reset !== undefined ? { next_reset: summary.next_reset } : {}),
    level,
    symbol: SYMBOLS[level],
    text: parts.join(" · "),
  };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const FILL = { ok: "#2e7d32", warn: "#b26a00", error: "#c62828" } as const;

/** A flat badge; widths estimated at 6.5 px per character (Verdana-ish 11 px), no font is loaded. */
export function badgeSvg(facts: BadgeFacts): string {
  const label = "rmx";
  const value = `${facts.symbol} ${facts.text}`;
  const lw = Math.round(label.length * 6.5 + 12);
  const vw = Math.round([...value].length * 6.5 + 12);
  const w = lw + vw;
  const title = escapeXml(`rmx: ${facts.text}`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${title}">
<title>${title}</title>
<rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${vw}" height="20" fill="${FILL[facts.level]}"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="6" y="14">${label}</text><text x="${lw + 6}" y="14">${escapeXml(value)}</text></g>
</svg>
`;
}
