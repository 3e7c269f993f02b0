import { z } from "zod";

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Parses an ISO 8601 date or date-time; one without an offset is taken as UTC. */
export function parseTimestamp(value: string): Date | undefined {
  const m = ISO_8601.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone = "Z"] = m;
  const daysInMonth = new Date(Date.UTC(2000, Number(mo), 0)).getUTCDate() - (Number(mo) === 2 && !isLeap(Number(y)) ? 1 : 0);
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > daysInMonth) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const ms = frac ? frac.slice(0, 4).padEnd(4, "0") : "";
  const offset = zone.toUpperCase() === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${offset}`);
  if (Number.isNaN(date.getTime())) return undefined;
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date : undefined;
}

/** A request field holding an ISO 8601 timestamp, parsed to a Date. */
export const timestamp = z.string().transform((value, ctx) => {
  const date = parseTimestamp(value);
  if (!date) {
    ctx.addIssue({ code: "custom", message: `'${value.slice(0, 40)}' is not an ISO 8601 timestamp such as 2025-03-01T10:00:00Z` });
    return z.NEVER;
  }
  return date;
});
