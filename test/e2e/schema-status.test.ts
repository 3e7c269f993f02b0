// GET /health and the readiness middleware read the schema's status on every call. Once the schema
// exists it is one statement (locally every statement waits its turn on the embedded database's
// one session); before the first migration that statement cannot be planned, and the status is
// found out step by step. Both paths are checked against a real database at each stage.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { migrate } from "../../scripts/lib/migrations.ts";
import { EXPECTED_MIGRATIONS, readSchemaStatus } from "../../src/db/schema.ts";

let pg: EmbeddedPostgres;
let sql: postgres.Sql;
beforeAll(async () => {
  pg = await startEmbeddedPostgres();
  sql = postgres(pg.url, { max: 1, onnotice: () => {} });
}, 180_000);
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await pg?.stop();
});

/** Counts the statements the embedded database executes during `run`: simple queries ('Q') and extended-protocol Syncs ('S'). */
async function statementsDuring<T>(run: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const original = pg.db.execProtocolRawStream;
  let statements = 0;
  pg.db.execProtocolRawStream = ((message: Uint8Array, options: Parameters<typeof original>[1]) => {
    if (message[0] === 0x51 || message[0] === 0x53) statements++;
    return original.call(pg.db, message, options);
  }) as typeof original;
  try {
    return { result: await run(), statements };
  } finally {
    pg.db.execProtocolRawStream = original;
  }
}

describe("readSchemaStatus", () => {
  it("before any migration: nothing applied, every migration pending", async () => {
    expect(await readSchemaStatus(sql)).toEqual({ applied: [], pending: [...EXPECTED_MIGRATIONS] });
  });

  it("after the first migration, and with all of them in one statement", async () => {
    await migrate(sql, () => {}, EXPECTED_MIGRATIONS[0]);
    expect(await readSchemaStatus(sql)).toEqual({
      applied: [EXPECTED_MIGRATIONS[0]],
      pending: EXPECTED_MIGRATIONS.slice(1),
    });

    await migrate(sql);
    const { result, statements } = await statementsDuring(() => readSchemaStatus(sql));
    expect(result).toEqual({ applied: [...EXPECTED_MIGRATIONS], pending: [] });
    expect(statements).toBe(1);
  });
});
