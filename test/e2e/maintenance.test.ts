// The embedded database's upkeep vacuums like autovacuum would: only the tables whose dead rows
// pass its threshold, one statement per table, so a table nobody changed costs nothing and
// requests run between tables (PGlite runs one statement at a time).
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { vacuumWhereNeeded } from "../../scripts/lib/maintenance.ts";

let pg: EmbeddedPostgres;
let sql: postgres.Sql;
beforeAll(async () => {
  pg = await startEmbeddedPostgres();
  sql = postgres(pg.url, { max: 1, prepare: false, onnotice: () => {} });
}, 180_000);
afterAll(async () => {
  await sql?.end();
  await pg?.stop();
});

describe("vacuumWhereNeeded", () => {
  it("vacuums the table with many dead rows, leaves a quiet one alone, and then has nothing left to do", async () => {
    await sql.unsafe(`
      CREATE TABLE churned (id int PRIMARY KEY, body text);
      CREATE TABLE quiet (id int PRIMARY KEY);
      INSERT INTO churned SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g;
      INSERT INTO quiet SELECT g FROM generate_series(1, 1000) g;`);
    // Both are new: the first run analyses them (their changes since the last ANALYZE pass 50 + 10 %).
    const first = await vacuumWhereNeeded(sql);
    expect(first.map((d) => d.split(":")[0])).toEqual(expect.arrayContaining(["ANALYZE public.churned", "ANALYZE public.quiet"]));
    expect(first.some((d) => d.startsWith("VACUUM"))).toBe(false);

    await sql`DELETE FROM churned WHERE id <= 600`; // 600 dead > 50 + 20 % of 400 live
    await sql`DELETE FROM quiet WHERE id <= 10`; // 10 dead: under the threshold
    const second = await vacuumWhereNeeded(sql);
    expect(second.map((d) => d.split(":")[0])).toEqual(["VACUUM (ANALYZE) public.churned"]);
    expect(second[0]).toMatch(/: 600 dead rows, \d+ ms$/);
    const [row] = await sql<{ dead: string; vacuumed: boolean }[]>`
      SELECT n_dead_tup AS dead, last_vacuum IS NOT NULL AS vacuumed FROM pg_stat_user_tables WHERE relname = 'churned'`;
    expect(row).toEqual({ dead: "0", vacuumed: true });

    expect(await vacuumWhereNeeded(sql)).toEqual([]);
  });
});
