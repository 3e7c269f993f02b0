import type { CacheTier } from "../cache/tier.ts";
import type { KeyOwner } from "../db/api-keys.ts";

/**
 * A copy of each recently verified key's owner in the L2 cache (KV or Upstash Redis), read only
 * when the database cannot be reached: a key the isolate has not verified lately can still get
 * cached answers during an outage (everything else needs the database and gets its 503).
 *
 * A revocation writes a tombstone under its own name, which a late copy cannot overwrite, and
 * which outlives any copy written before it. KV spreads both within about a minute, so a key
 * revoked less than a minute before an outage may still be let through to cached answers.
 */
const ownerKey = (keyHash: string) => `auth:v1:owner:${keyHash}`;
const revokedKey = (keyHash: string) => `auth:v1:revoked:${keyHash}`;
/** An isolate re-writes a key's copy at most this often (KV allows one write a second per name). */
const REWRITE_MS = 3_600_000;
const written = new Map<string, number>();

export interface KeyFallback {
  /** After a database lookup found the owner: keep a copy (deferred, at most hourly per isolate). */
  remember(keyHash: string, owner: KeyOwner): Promise<void> | undefined;
  /** While the database is down: the copy, "revoked" after a revocation, or undefined. */
  recall(keyHash: string): Promise<KeyOwner | "revoked" | undefined>;
  /** After a revocation. */
  revoked(keyHash: string): Promise<void>;
}

export function keyFallback(tier: CacheTier, ttlSeconds: number): KeyFallback {
  return {
    remember(keyHash, owner) {
      if (ttlSeconds <= 0) return undefined;
      const now = Date.now();
      if (now - (written.get(keyHash) ?? -Infinity) < REWRITE_MS) return undefined;
      if (written.size >= 10_000) written.delete(written.keys().next().value!);
      written.set(keyHash, now);
      return tier.put(ownerKey(keyHash), JSON.stringify(owner), ttlSeconds);
    },
    async recall(keyHash) {
      if (ttlSeconds <= 0) return undefined;
      const [owner, tombstone] = await Promise.all([tier.get(ownerKey(keyHash)), tier.get(revokedKey(keyHash))]);
      if (tombstone !== undefined) return "revoked";
      if (owner === undefined) return undefined;
      const parsed = JSON.parse(owner) as Partial<KeyOwner>;
      const valid =
        typeof parsed.keyId === "string" &&
        typeof parsed.tenantId === "string" &&
        (parsed.role === "user" || parsed.role === "admin" || parsed.role === "operator");
      return valid ? (parsed as KeyOwner) : undefined;
    },
    async revoked(keyHash) {
      written.delete(keyHash);
      if (ttlSeconds > 0) await tier.put(revokedKey(keyHash), "1", ttlSeconds + 3_600);
    },
  };
}
