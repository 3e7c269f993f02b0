// The embedded server shares PGlite's one session between connections. A connection that closes
// while PGlite executes its message must not leave that session owned by it: the message may open
// a transaction (BEGIN) or an extended-protocol sequence (Parse … Sync) that nobody will finish,
// and every other client would wait for it for ever. The test holds PGlite inside the message (a
// gate around its execution, as a slow statement would), closes the connection, then lets it go.
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";

let pg: EmbeddedPostgres;
let execute: EmbeddedPostgres["db"]["execProtocolRawStream"];
// Generous: starting PGlite takes seconds, more on a busy machine.
beforeAll(async () => {
  pg = await startEmbeddedPostgres();
  execute = pg.db.execProtocolRawStream;
}, 180_000);
afterEach(() => {
  pg.db.execProtocolRawStream = execute;
});
afterAll(async () => {
  await pg?.stop();
});

/** Holds the first message that contains `marker` inside PGlite until `release()`. */
function gate(marker: string) {
  const original = pg.db.execProtocolRawStream.bind(pg.db);
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  let armed = true;
  pg.db.execProtocolRawStream = (async (message: Uint8Array, options: Parameters<typeof original>[1]) => {
    if (armed && Buffer.from(message).includes(marker)) {
      armed = false;
      reached();
      await released;
    }
    return original(message, options);
  }) as typeof original;
  return { reached: reachedP, release };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}

describe("a connection that closes while its message runs", () => {
  for (const [what, start] of [
    ["a BEGIN (simple query)", (sql: postgres.Sql) => sql.unsafe("BEGIN /* gated */").simple()],
    ["a Parse in the middle of an extended-protocol sequence", (sql: postgres.Sql) => sql.unsafe("SELECT $1::int AS gated", [1])],
  ] as const) {
    it(`leaves the session to the others: ${what}`, async () => {
      const held = gate("gated");
      const gone = postgres(pg.url, { max: 1, onnotice: () => {} });
      const pending = start(gone).catch(() => undefined);
      await held.reached;
      await gone.end({ timeout: 0 });
      await until(() => pg.stats().connections === 0);
      held.release();
      await pending;

      const other = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        // Before the fix this waited for ever for the gone connection's transaction or sequence.
        expect((await other`SELECT 41 + 1 AS n`)[0]!.n).toBe(42);
        expect(pg.db.isInTransaction()).toBe(false);
        await other.begin(async (tx) => {
          await tx`SELECT 1`;
        });
      } finally {
        await other.end();
      }
    });
  }
});
