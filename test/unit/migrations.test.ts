import { describe, expect, it } from "vitest";
import { readMigrations } from "../../scripts/lib/migrations";
import { EXPECTED_MIGRATIONS } from "../../src/db/schema";
import { fromVectorLiteral, toVectorLiteral } from "../../src/db/vector";

describe("migrations", () => {
  it("the code expects exactly the migration files that exist, in order", () => {
    expect(readMigrations().map((m) => m.version)).toEqual([...EXPECTED_MIGRATIONS]);
  });

  it("every tenant-owned table carries tenant_id", () => {
    const sql = readMigrations()
      .map((m) => m.sql)
      .join("\n");
    for (const table of ["api_keys", "conversations", "messages", "conversation_chunks"]) {
      const body = sql.match(new RegExp(`CREATE TABLE ${table} \\(([\\s\\S]*?)\\n\\);`))?.[1];
      expect(body, table).toMatch(/\btenant_id\s+text NOT NULL/);
    }
  });
});

describe("vector literals", () => {
  it("round-trip through pgvector's text form", () => {
    const v = Float32Array.from([0.5, -0.25, 0.125, 0]);
    expect([...fromVectorLiteral(toVectorLiteral(v))]).toEqual([0.5, -0.25, 0.125, 0]);
  });
});
