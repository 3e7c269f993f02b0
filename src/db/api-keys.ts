import type { Role } from "../auth/api-key.ts";
import type { Db } from "./client.ts";

export interface KeyOwner {
  keyId: string;
  tenantId: string;
  role: Role;
}

export async function findKeyOwner(db: Db, keyHash: string): Promise<KeyOwner | undefined> {
  const [row] = await db<{ id: string; tenant_id: string; role: Role }[]>`
    SELECT id, tenant_id, role FROM api_keys WHERE key_hash = ${keyHash} AND revoked_at IS NULL`;
  return row && { keyId: row.id, tenantId: row.tenant_id, role: row.role };
}

export interface KeyRecord {
  id: string;
  tenant: string;
  role: Role;
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

/** Creates the tenant on first use, then the key. */
export async function insertApiKey(db: Db, tenantId: string, role: Role, keyHash: string, prefix: string): Promise<KeyRecord> {
  await db`INSERT INTO tenants (id) VALUES (${tenantId}) ON CONFLICT (id) DO NOTHING`;
  const [row] = await db<KeyRecord[]>`
    INSERT INTO api_keys (tenant_id, key_hash, key_prefix, role) VALUES (${tenantId}, ${keyHash}, ${prefix}, ${role})
    RETURNING id, tenant_id AS tenant, role, key_prefix AS prefix, created_at, revoked_at`;
  return row!;
}

/** A tenant's keys; operator keys only when `withOperators` (an admin key never sees them). */
export async function listApiKeys(db: Db, tenantId: string, withOperators: boolean): Promise<KeyRecord[]> {
  return db<KeyRecord[]>`
    SELECT id, tenant_id AS tenant, role, key_prefix AS prefix, created_at, revoked_at
    FROM api_keys WHERE tenant_id = ${tenantId} AND (${withOperators} OR role <> 'operator') ORDER BY created_at`;
}

/**
 * Revokes a key; returns its digest, or undefined when there was no such active key. With
 * `adminTenant`, only that tenant's user and admin keys count (what an admin key manages).
 */
export async function revokeApiKey(db: Db, id: string, adminTenant?: string): Promise<string | undefined> {
  const [row] =
    adminTenant === undefined
      ? await db<
          { key_hash: string }[]
        >`UPDATE api_keys SET revoked_at = now() WHERE id = ${id}::uuid AND revoked_at IS NULL RETURNING key_hash`
      : await db<{ key_hash: string }[]>`
          UPDATE api_keys SET revoked_at = now()
          WHERE id = ${id}::uuid AND tenant_id = ${adminTenant} AND role <> 'operator' AND revoked_at IS NULL RETURNING key_hash`;
  return row?.key_hash;
}
