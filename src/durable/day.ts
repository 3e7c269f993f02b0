/** The UTC day of a time, as YYYY-MM-DD: the unit of a tenant's daily budget. */
export const utcDay = (now = Date.now()) => new Date(now).toISOString().slice(0, 10);

/** Seconds until the next UTC midnight, when a day's budget starts afresh. */
export function secondsToMidnight(now = Date.now()): number {
  const d = new Date(now);
  return Math.max(1, Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now) / 1000));
}
