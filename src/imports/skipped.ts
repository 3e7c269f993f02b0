// What an import left out, as its status reports it: the first parts with where and why, and how
// many there were in all.

export interface Skipped {
  listed: { where: string; reason: string }[];
  count: number;
}

/** Skipped parts the status lists; all are counted. */
export const SKIPPED_LISTED = 100;

export const emptySkipped = (): Skipped => ({ listed: [], count: 0 });

/** Counts a skipped part, and lists it while the list has room. */
export function noteSkipped(skipped: Skipped, where: string, reason: string): void {
  skipped.count++;
  if (skipped.listed.length < SKIPPED_LISTED) skipped.listed.push({ where, reason });
}
