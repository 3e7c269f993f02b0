// Wall-clock times (a chat export's "15/01/2024, 10:00") to UTC instants in an IANA time zone,
// with Intl.DateTimeFormat as the only source of offsets (Workers have no time zone database).
import { ImportError } from "./format.ts";

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

/** Converts a wall-clock time to the instant it names. */
export type ToUtc = (wall: WallClock) => Date;

const DAY = 86_400_000;

/** Milliseconds since the epoch of a wall-clock time read as UTC (years 0–99 included). */
export function utcMs(w: WallClock): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, w.millisecond);
  return d.getTime();
}

/** Whether year, month and day name a calendar day. */
export function isCalendarDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(utcMs({ year, month: month + 1, day: 0, hour: 0, minute: 0, second: 0, millisecond: 0 })).getUTCDate();
}

/**
 * The converter for an IANA zone (default UTC); an unknown zone fails with ImportError("options").
 * A time that occurs twice (clocks turned back) is the earlier instant; one that does not occur
 * (clocks turned forward) is moved forward by the gap, as Temporal's "compatible" does.
 *
 * @example zonedToUtc("Europe/Berlin")({ year: 2024, month: 7, day: 1, hour: 12, minute: 0, second: 0, millisecond: 0 }) // 10:00Z
 */
export function zonedToUtc(timeZone: string | undefined): ToUtc {
  if (timeZone === undefined || timeZone === "UTC" || timeZone === "Etc/UTC") return (w) => new Date(utcMs(w));
  const offsetAt = offsetsIn(timeZone);
  let cachedDay = Number.NaN;
  let before = 0;
  let after = 0;
  return (w) => {
    const local = utcMs(w);
    const day = Math.floor(local / DAY);
    if (day !== cachedDay) {
      // No zone changes its offset twice within three days, so offsets a day before and two days
      // after this local day bracket every instant that could show this wall-clock time.
      cachedDay = day;
      before = offsetAt(day * DAY - DAY);
      after = offsetAt(day * DAY + 2 * DAY);
    }
    if (before === after) return new Date(local - before);
    const valid = [local - before, local - after].filter((t) => offsetAt(t) === local - t);
    return new Date(valid.length > 0 ? Math.min(...valid) : local - before);
  };
}

function offsetsIn(timeZone: string): (t: number) => number {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    throw new ImportError("options", `unknown time zone '${timeZone}': give an IANA name such as Europe/Berlin or America/New_York`);
  }
  return (t) => {
    const fields: Record<string, number> = {};
    for (const part of format.formatToParts(t)) if (part.type !== "literal") fields[part.type] = Number(part.value);
    const shown = utcMs({
      year: fields.year ?? 1970,
      month: fields.month ?? 1,
      day: fields.day ?? 1,
      hour: (fields.hour ?? 0) % 24,
      minute: fields.minute ?? 0,
      second: fields.second ?? 0,
      millisecond: 0,
    });
    return shown - (t - (((t % 1000) + 1000) % 1000));
  };
}
