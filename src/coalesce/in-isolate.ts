/**
 * Identical asks in flight in one isolate, sharing one answer: the first leads and finishes with
 * its whole answer (or nothing, when it failed); the others wait for it, then replay it. A
 * finished answer is kept for `graceMs`, until the cache that it is written to can serve it; a
 * lead that has not finished after `maxLeadMs` (its request went away) is no longer joined.
 * Nothing is stored outside the isolate's memory, and at most `maxEntries` answers are kept.
 */
export class InIsolate<T> {
  private readonly answers = new Map<string, { value: Promise<T | undefined>; until: number }>();

  constructor(
    private readonly graceMs: number,
    private readonly maxLeadMs = 60_000,
    private readonly maxEntries = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  join(key: string): { role: "leader"; finish(value: T | undefined): void } | { role: "follower"; value: Promise<T | undefined> } {
    const at = this.now();
    const known = this.answers.get(key);
    if (known && known.until > at) return { role: "follower", value: known.value };
    if (this.answers.size >= this.maxEntries) this.sweep(at);
    let resolve!: (value: T | undefined) => void;
    const value = new Promise<T | undefined>((r) => (resolve = r));
    const entry = { value, until: at + this.maxLeadMs };
    this.answers.set(key, entry);
    let finished = false;
    return {
      role: "leader",
      finish: (result) => {
        if (finished) return;
        finished = true;
        resolve(result);
        // A failed answer is not shared any longer; a whole one is, for the grace period.
        if (result === undefined || this.graceMs <= 0) {
          if (this.answers.get(key) === entry) this.answers.delete(key);
        } else entry.until = this.now() + this.graceMs;
      },
    };
  }

  /** Answers in flight or in their grace period. */
  get size(): number {
    return this.answers.size;
  }

  private sweep(at: number): void {
    for (const [key, entry] of this.answers) if (entry.until <= at) this.answers.delete(key);
    // Still full: the oldest go (their followers keep their promise; new asks lead afresh).
    for (const key of this.answers.keys()) {
      if (this.answers.size < this.maxEntries) break;
      this.answers.delete(key);
    }
  }
}
