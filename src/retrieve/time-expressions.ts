export interface TimeRange {
  from: Date;
  to: Date;
  /** The words of the query that named the range. */
  match: string;
}

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const MONTH = `(${MONTHS.join("|")}|${MONTHS.map((m) => m.slice(0, 3)).join("|")})\\.?`;
const DAY_MS = 86_400_000;

const utc = (y: number, m: number, d = 1) => new Date(Date.UTC(y, m, d));
const monthIndex = (name: string) => MONTHS.findIndex((m) => m.startsWith(name.toLowerCase().slice(0, 3)));
const startOfWeek = (d: Date) => utc(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7));

/**
 * Finds a simple time expression in a query: "in May 2023", "May 7, 2023", "2022", "last week",
 * "yesterday", "this month", "last year". Relative expressions are taken relative to `now`.
 * Returns the first one found, as a [from, to) range.
 *
 * @example parseTimeExpression("what did John say in May 2023?", new Date())
 */
export function parseTimeExpression(query: string, now: Date): TimeRange | undefined {
  const q = query.toLowerCase();
  let m = new RegExp(`\\b${MONTH}\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`).exec(q);
  if (m) {
    const from = utc(Number(m[3]), monthIndex(m[1]!), Number(m[2]));
    return { from, to: new Date(from.getTime() + DAY_MS), match: m[0] };
  }
  m = new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH},?\\s+(\\d{4})\\b`).exec(q);
  if (m) {
    const from = utc(Number(m[3]), monthIndex(m[2]!), Number(m[1]));
    return { from, to: new Date(from.getTime() + DAY_MS), match: m[0] };
  }
  m = new RegExp(`\\b${MONTH}\\s+(?:of\\s+)?(\\d{4})\\b`).exec(q);
  if (m) {
    const month = monthIndex(m[1]!);
    return { from: utc(Number(m[2]), month), to: utc(Number(m[2]), month + 1), match: m[0] };
  }
  m = /\b(?:in|during|since|from|of|year)\s+((?:19|20)\d{2})\b/.exec(q);
  if (m) return { from: utc(Number(m[1]), 0), to: utc(Number(m[1]) + 1, 0), match: m[0] };

  const today = utc(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const relative: [RegExp, () => [Date, Date]][] = [
    [/\btoday\b/, () => [today, new Date(today.getTime() + DAY_MS)]],
    [/\byesterday\b/, () => [new Date(today.getTime() - DAY_MS), today]],
    [/\bthis week\b/, () => [startOfWeek(today), new Date(startOfWeek(today).getTime() + 7 * DAY_MS)]],
    [/\blast week\b/, () => [new Date(startOfWeek(today).getTime() - 7 * DAY_MS), startOfWeek(today)]],
    [/\bthis month\b/, () => [utc(today.getUTCFullYear(), today.getUTCMonth()), utc(today.getUTCFullYear(), today.getUTCMonth() + 1)]],
    [/\blast month\b/, () => [utc(today.getUTCFullYear(), today.getUTCMonth() - 1), utc(today.getUTCFullYear(), today.getUTCMonth())]],
    [/\bthis year\b/, () => [utc(today.getUTCFullYear(), 0), utc(today.getUTCFullYear() + 1, 0)]],
    [/\blast year\b/, () => [utc(today.getUTCFullYear() - 1, 0), utc(today.getUTCFullYear(), 0)]],
  ];
  for (const [pattern, range] of relative) {
    const hit = pattern.exec(q);
    if (hit) {
      const [from, to] = range();
      return { from, to, match: hit[0] };
    }
  }
  return undefined;
}
