import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Every query function over tenant-owned tables must filter by tenant: a static check that
// complements the EXPLAIN and isolation tests (which cover the routes).
const DB_DIR = join(import.meta.dirname, "../../src/db");
const TENANT_TABLES =
  /\b(?:FROM|JOIN|INTO|UPDATE)\s+(?:conversations|messages|conversation_chunks|chunk_vectors|chat_sessions|chat_turns|semantic_cache|imports|tenant_embedding_models|reembed_jobs)\b/;
// Catalog lookups (schema.ts) name tables without reading rows; housekeeping.ts is the cron's
// cross-tenant maintenance and returns counts only (and the import watchdog's jobs, which it
// queues again without showing them to anyone).
const EXEMPT = new Set(["schema.ts", "housekeeping.ts"]);

describe("tenant scoping of SQL", () => {
  const files = readdirSync(DB_DIR).filter((f) => f.endsWith(".ts") && !EXEMPT.has(f));

  it.each(files)("%s: every function that reads or writes tenant rows filters by tenant", (file) => {
    const source = readFileSync(join(DB_DIR, file), "utf8");
    const functions = source.split(/\n(?=export (?:async )?function )/).slice(1);
    for (const fn of functions) {
      if (!TENANT_TABLES.test(fn)) continue;
      const name = fn.match(/function (\w+)/)?.[1];
      // Reads, updates and deletes filter on tenant_id; inserts write the caller's tenant into it.
      const scoped =
        /tenant_id = \$\{|scopeSql\(/.test(fn) || /INSERT INTO \w+ \(tenant_id[\s\S]*(?:SELECT|VALUES \() ?\$\{tenantId\}/.test(fn);
      expect(scoped, `${file}: ${name}`).toBe(true);
    }
  });
});
