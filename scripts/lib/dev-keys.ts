// The development keys that the README promises: a user key for tenant "dev" and an operator key
// (the person running npm start operates the whole local instance: every tenant, the metrics).
import postgres from "postgres";
import { hashApiKey, keyPrefix } from "../../src/auth/api-key.ts";
import { migrate } from "./migrations.ts";

export interface DevKeys {
  userKey: string;
  adminKey: string;
  tenant: string;
}

export const DEFAULT_DEV_KEYS: DevKeys = { userKey: "dev-local-key", adminKey: "dev-admin-key", tenant: "dev" };

/** Inserts the keys (idempotent). An empty key disables it. */
export async function ensureDevKeys(sql: postgres.Sql, keys: DevKeys = DEFAULT_DEV_KEYS): Promise<void> {
  await sql`INSERT INTO tenants (id) VALUES (${keys.tenant}) ON CONFLICT (id) DO NOTHING`;
  for (const [key, role] of [
    [keys.userKey, "user"],
    [keys.adminKey, "operator"],
  ] as const) {
    if (!key) continue;
    // An older data folder has the second key as an admin: it becomes the operator key it now is.
    await sql`
      INSERT INTO api_keys (tenant_id, key_hash, key_prefix, role)
      VALUES (${keys.tenant}, ${hashApiKey(key)}, ${keyPrefix(key)}, ${role})
      ON CONFLICT (key_hash) DO UPDATE SET role = EXCLUDED.role WHERE api_keys.role <> EXCLUDED.role AND api_keys.revoked_at IS NULL`;
  }
}

/** A local database made ready for the API: migrated, with the dev keys, then `more` on the same connection. */
export async function prepareLocalDatabase(url: string, more?: (sql: postgres.Sql) => Promise<void>): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await migrate(sql);
    await ensureDevKeys(sql);
    await more?.(sql);
  } finally {
    await sql.end();
  }
}
