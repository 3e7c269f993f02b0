// @ts-check
// The admin view (admin and operator keys): the cache's figures and the tenant's API keys.
import { explain, getJson } from "./api.js";
import { byId, dateTime, h } from "./dom.js";

export async function loadAdmin() {
  const stats = byId("cache-stats");
  const keys = /** @type {HTMLTableElement} */ (byId("keys")).tBodies[0];
  const status = byId("admin-status");
  status.textContent = "Loading…";
  try {
    /** @type {[unknown, { keys: { prefix: string, role: string, created_at: string, revoked_at: string | null }[] }]} */
    const [cache, list] = await Promise.all([getJson("/api/admin/cache/stats"), getJson("/api/admin/keys")]);
    stats.replaceChildren(...flatten(cache).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    const row = (/** @type {(typeof list.keys)[number]} */ k) =>
      h(
        "tr",
        {},
        h("td", {}, h("code", {}, k.prefix)),
        h("td", {}, k.role),
        h("td", {}, dateTime(k.created_at)),
        h("td", {}, k.revoked_at ? `revoked ${dateTime(k.revoked_at)}` : "active"),
      );
    keys?.replaceChildren(...list.keys.map(row));
    status.textContent = "";
  } catch (err) {
    status.textContent = explain(err);
  }
}

/**
 * Nested figures as "a.b.c" → value rows.
 * @param {unknown} value @param {string} [prefix]
 * @returns {[string, string][]}
 */
function flatten(value, prefix = "") {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, typeof value === "number" ? value.toLocaleString() : String(value)]];
}
