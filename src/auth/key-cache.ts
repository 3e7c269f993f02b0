import type { KeyOwner } from "../db/api-keys.ts";

/**
 * Key → owner lookups remembered for a short time in the isolate, so an authenticated request
 * needs no database round trip for its key. Unknown keys are never remembered (nothing for a
 * guesser to fill). A revocation takes effect at once in the isolate that revoked the key and
 * within the TTL everywhere else.
 */
export class KeyCache {
  private readonly entries = new Map<string, { owner: KeyOwner; expires: number }>();

  constructor(private readonly maxEntries = 10_000) {}

  get(keyHash: string, now = Date.now()): KeyOwner | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.expires <= now) {
      this.entries.delete(keyHash);
      return undefined;
    }
    return entry.owner;
  }

  set(keyHash: string, owner: KeyOwner, ttlMs: number, now = Date.now()): void {
    if (ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(keyHash, { owner, expires: now + ttlMs });
  }

  /** Forgets every key (as a new isolate starts). */
  clear(): void {
    this.entries.clear();
  }

  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.entries) if (entry.owner.keyId === keyId) this.entries.delete(hash);
  }
}

/** The isolate's cache. */
export const keyCache = new KeyCache();
