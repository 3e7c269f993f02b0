/**
 * Data versions that cache keys include, so invalidation is a version bump and never a key scan:
 * once bumped, every entry made under the old version is unreachable and expires by TTL.
 * - `g`: global epoch (admin "invalidate everything");
 * - `t:<tenant>`: the tenant's epoch (admin "invalidate tenant");
 * - `d:<tenant>`: the tenant's data, bumped by every ingest or delete in it (unscoped questions);
 * - `c:<tenant>:<conversation>`: one conversation's data (questions scoped to conversations).
 * Stored in Workers KV: a bump is visible at once in the location that made it and within KV's
 * propagation time (up to about 60 s) elsewhere; docs/CACHING.md states the bound.
 */
export interface Versions {
  /** The version string of a scope: tenant-wide, or the listed conversations. */
  scope(tenantId: string, conversationIds: string[] | undefined): Promise<string>;
  /** After a conversation's data changed: bumps it and its tenant's data version. */
  conversationChanged(tenantId: string, conversationId: string): Promise<void>;
  invalidateTenant(tenantId: string): Promise<void>;
  invalidateAll(): Promise<void>;
  /**
   * Deletes the version records of conversations that no longer exist, once their last bump is
   * older than `olderThanMs` (the longest cache TTL): every entry keyed on them has expired, so a
   * conversation created again under the same id can safely start from version 0. Returns how
   * many were deleted.
   */
  compact(exists: (tenantId: string, conversationIds: string[]) => Promise<Set<string>>, olderThanMs: number): Promise<number>;
}

/**
 * The tenant's version records a scope's keys depend on (besides `g` and `t`): `d` for a
 * tenant-wide scope, `c:<conversation id>` for each conversation of a scoped one.
 */
export function scopeRecords(conversationIds: string[] | undefined): string[] {
  return conversationIds?.length ? [...new Set(conversationIds)].sort().map((id) => `c:${id}`) : ["d"];
}

/**
 * What a bump made stale: the tenant's entries keyed on one of `records` (scopeRecords' names),
 * or all of the tenant's (`"all"`), or every tenant's (tenantId undefined).
 */
export type StaleEntries = (tenantId: string | undefined, records: string[] | "all") => void;

/**
 * Versions that also report each successful bump, for a store that deletes what became stale
 * instead of waiting for it to expire (the semantic cache on Upstash Vector).
 */
export function observedVersions(inner: Versions, stale: StaleEntries): Versions {
  return {
    ...inner,
    async conversationChanged(tenantId, conversationId) {
      await inner.conversationChanged(tenantId, conversationId);
      stale(tenantId, ["d", `c:${conversationId}`]);
    },
    async invalidateTenant(tenantId) {
      await inner.invalidateTenant(tenantId);
      stale(tenantId, "all");
    },
    async invalidateAll() {
      await inner.invalidateAll();
      stale(undefined, "all");
    },
  };
}

const fresh = () => `${Date.now().toString(36)}.${crypto.randomUUID().slice(0, 8)}`;

export function kvVersions(ns: KVNamespace): Versions {
  const read = async (keys: string[]) => (await Promise.all(keys.map((k) => ns.get(`v:${k}`)))).map((v) => v ?? "0");
  return {
    async scope(tenantId, conversationIds) {
      const data = conversationIds?.length ? [...new Set(conversationIds)].sort().map((id) => `c:${tenantId}:${id}`) : [`d:${tenantId}`];
      return (await read(["g", `t:${tenantId}`, ...data])).join("|");
    },
    async conversationChanged(tenantId, conversationId) {
      await Promise.all([ns.put(`v:c:${tenantId}:${conversationId}`, fresh()), ns.put(`v:d:${tenantId}`, fresh())]);
    },
    invalidateTenant: (tenantId) => ns.put(`v:t:${tenantId}`, fresh()),
    invalidateAll: () => ns.put("v:g", fresh()),
    async compact(exists, olderThanMs) {
      let deleted = 0;
      let cursor: string | undefined;
      do {
        const page = await ns.list({ prefix: "v:c:", cursor });
        const byTenant = new Map<string, { key: string; conversationId: string }[]>();
        for (const { name } of page.keys) {
          const rest = name.slice("v:c:".length);
          const cut = rest.indexOf(":"); // tenant ids have no ':'; conversation ids may
          if (cut < 0) continue;
          const tenantId = rest.slice(0, cut);
          byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), { key: name, conversationId: rest.slice(cut + 1) }]);
        }
        for (const [tenantId, records] of byTenant) {
          const alive = await exists(
            tenantId,
            records.map((r) => r.conversationId),
          );
          for (const r of records) {
            if (alive.has(r.conversationId)) continue;
            const bumpedAt = parseInt((await ns.get(r.key))?.split(".")[0] ?? "", 36);
            if (Number.isFinite(bumpedAt) && Date.now() - bumpedAt < olderThanMs) continue;
            await ns.delete(r.key);
            deleted++;
          }
        }
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return deleted;
    },
  };
}
