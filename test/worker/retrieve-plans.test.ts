import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createSql } from "../../src/db/client";
import { keywordQuery, semanticQuery } from "../../src/db/search";
import { localEmbedder } from "../../src/providers/local-embedder";
import { BULK } from "../helpers/bulk-chunks";
import { api } from "./support/api";

// The bulk tenant is loaded by the global setup (test/helpers/bulk-chunks.ts).
const tenant = BULK;

async function explain(build: (db: ReturnType<typeof createSql>) => unknown): Promise<string> {
  const db = createSql(env.HYPERDRIVE);
  const rows = await db.begin(async (tx) => {
    await tx`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)`;
    return tx`EXPLAIN ${build(tx as never) as never}`;
  });
  return (rows as unknown as Record<string, string>[]).map((r) => Object.values(r)[0]).join("\n");
}

describe("query plans on a large table", () => {
  it("the semantic query uses the HNSW index and is scoped by tenant", async () => {
    const [vector] = await localEmbedder({ dimensions: 384 }).embed(["roadmap budget"]);
    const plan = await explain((db) => semanticQuery(db, { tenantId: tenant.tenant }, { model: "local-hash-v1", vector: vector! }, 10));
    expect(plan).toMatch(/Index Scan using chunk_vectors_hnsw_384/);
    expect(plan).toContain(`tenant_id = '${tenant.tenant}'`);
  });

  it("the keyword query uses the GIN index and is scoped by tenant", async () => {
    const plan = await explain((db) => keywordQuery(db, { tenantId: tenant.tenant }, "zeppelin", 10));
    expect(plan).toMatch(/Bitmap Index Scan on chunks_tsv_idx/);
    expect(plan).toContain(`tenant_id = '${tenant.tenant}'`);
  });
});

describe("selective filters", () => {
  it(`a filter matching ${100 / BULK.rareEvery}% of the rows still returns k results from semantic search`, async () => {
    const res = await api("POST", "/api/rag/retrieve", {
      key: tenant.key,
      body: { query: "budget roadmap", strategies: ["semantic"], top_k: 25, filters: { author_names: ["Rare"] } },
    });
    const body = (await res.json()) as { chunks: { authors: string[] }[] };
    expect(body.chunks).toHaveLength(25);
    for (const c of body.chunks) expect(c.authors).toEqual(["Rare"]);
  });

  it("with only the tenant as filter, iterative index scans skip other tenants' rows and still return k", async () => {
    const res = await api("POST", "/api/rag/retrieve", {
      key: tenant.key,
      body: { query: "hiring design", strategies: ["semantic"], top_k: 100 },
    });
    expect(((await res.json()) as { chunks: unknown[] }).chunks).toHaveLength(100);
  });
});
