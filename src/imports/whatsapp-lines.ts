// The lines of a WhatsApp chat export: which start a message and what a finished message is (a
// message, a system notice, an attachment, a deleted message). Android writes
// "15/01/2024, 10:00 - Name: text", iOS "[15/01/2024, 10:00:00] Name: text"; both follow the
// phone's locale for the date order, the year's digits and the clock.
import type { WallClock } from "./zone.ts";

export type DateOrder = "dmy" | "mdy" | "ymd";

/** A line that starts a message: its date fields as written, its clock, and what follows. */
export interface Header {
  fields: [string, string, string];
  hour: number;
  minute: number;
  second: number;
  meridiem: "am" | "pm" | undefined;
  rest: string;
}

const DATE = String.raw`(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})`;
const TIME = String.raw`(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?(?:[ \u00a0\u202f]?([AaPp])\.?[ \u00a0\u202f]?[Mm]\.?)?`;
const ANDROID = new RegExp(String.raw`^${DATE},?[ \u00a0\u202f]${TIME} [-\u2013] (.*)$`, "s");
const IOS = new RegExp(String.raw`^\[${DATE},?[ \u00a0\u202f]${TIME}\] (.*)$`, "s");
const LEADING_MARKS = /^[\u200e\u200f\u202a-\u202e\u2066-\u2069]+/;

/**
 * The header of a line that starts a message, or undefined for a continuation line.
 *
 * @example parseHeader("[1/15/24, 9:05:00 PM] Bob: hi")?.rest // "Bob: hi"
 */
export function parseHeader(line: string): Header | undefined {
  const bare = line.replace(LEADING_MARKS, "");
  const m = ANDROID.exec(bare) ?? IOS.exec(bare);
  if (!m) return undefined;
  const [, a = "", b = "", c = "", hour = "", minute = "", second = "0", meridiem, rest = ""] = m;
  return {
    fields: [a, b, c],
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second),
    meridiem: meridiem === undefined ? undefined : meridiem.toLowerCase() === "a" ? "am" : "pm",
    rest,
  };
}

/** The order a header's date must be in, when it tells: a 4-digit first field, or a field over 12. */
export function orderHint(fields: Header["fields"]): DateOrder | "none" | undefined {
  const [a, b] = fields;
  if (a.length === 4) return "ymd";
  const first = Number(a) > 12;
  const second = Number(b) > 12;
  if (first && second) return "none";
  return first ? "dmy" : second ? "mdy" : undefined;
}

/** The wall-clock time of a header in `order`, or undefined when it is no date or time. */
export function wallClock(header: Header, order: DateOrder): WallClock | undefined {
  const [a, b, c] = header.fields;
  const [y, mo, d] = order === "ymd" ? [a, b, c] : order === "dmy" ? [c, b, a] : [c, a, b];
  if (y.length !== 2 && y.length !== 4) return undefined;
  const year = y.length === 2 ? 2000 + Number(y) : Number(y);
  let hour = header.hour;
  if (header.meridiem) {
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (header.meridiem === "pm" ? 12 : 0);
  }
  if (hour > 23 || header.minute > 59 || header.second > 59) return undefined;
  return { year, month: Number(mo), day: Number(d), hour, minute: header.minute, second: header.second, millisecond: 0 };
}

export type Entry =
  | { kind: "message"; author: string; text: string; attachments: number }
  | { kind: "system"; author: string | undefined; text: string }
  | { kind: "attachment" }
  | { kind: "deleted" };

const ATTACHMENT_LINES = [
  /^<[^<>]* omitted>$/i,
  /^<attached: [^<>]+>$/i,
  /^(?:image|video|audio|sticker|GIF|Contact card) omitted$/i,
  /^(?:.+ )?document omitted$/i,
  /^[^\s/\\]+\.[A-Za-z0-9]{1,5} \(file attached\)$/,
];
const DELETED = /^<?(?:This message was deleted|You deleted this message)\.?>?$/i;
const EDITED = /\s*\u200e?<This message was edited>$/;
const MARK = /\u200e/g;

/**
 * What one message of the export is. `rest` is its first line after the time, `more` its
 * continuation lines. iOS marks notices, attachments and deletions with U+200E before the text;
 * a line without "Name: " (Android notices) or whose name holds quotes is a notice too.
 *
 * @example classify("Bob: <Media omitted>", []) // { kind: "attachment" }
 */
export function classify(rest: string, more: string[]): Entry {
  const colon = rest.indexOf(": ");
  const author = colon === -1 ? (rest.endsWith(":") ? rest.slice(0, -1) : undefined) : rest.slice(0, colon);
  if (author === undefined || /["\u201c\u201d]/.test(author)) return { kind: "system", author: undefined, text: rest };
  const first = colon === -1 ? "" : rest.slice(colon + 2);
  const marked = first.startsWith("\u200e");
  const lines = [first.replace(/^\u200e/, ""), ...more];
  const last = lines.length - 1;
  lines[last] = lines[last]!.replace(EDITED, "");
  const whole = lines.join("\n").trim();
  if (DELETED.test(whole.replace(MARK, ""))) return { kind: "deleted" };
  const kept = lines.filter((l) => !ATTACHMENT_LINES.some((re) => re.test(l.replace(MARK, "").trim())));
  const attachments = lines.length - kept.length;
  const text = kept.join("\n").replace(/^\s*\n|\s+$/g, "");
  if (attachments > 0 && text.trim() === "") return { kind: "attachment" };
  if (marked && attachments === 0) return { kind: "system", author, text };
  return { kind: "message", author, text, attachments };
}

const ENCRYPTION_NOTICE = /^(?:Messages and calls are end-to-end encrypted|Messages to this (?:group|chat) are now secured)/;
const CREATED_GROUP = /created group [\u201c"](.+)[\u201d"]$/;

/** The chat's name a notice gives: the author of iOS's encryption notice, or a created group's name. */
export function chatNameFrom(entry: Entry & { kind: "system" }): string | undefined {
  const created = CREATED_GROUP.exec(entry.text);
  if (created) return created[1];
  return entry.author !== undefined && ENCRYPTION_NOTICE.test(entry.text) ? entry.author : undefined;
}
