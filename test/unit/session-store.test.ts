import { describe, expect, it } from "vitest";
import type { SessionStore } from "../../src/db/ports";
import { readOnce } from "../../src/db/postgres";
import type { StoredSession } from "../../src/db/sessions";

/** A session store in memory that counts its reads. */
function counted() {
  const turns: StoredSession["turns"] = [];
  const reads: string[] = [];
  let failNext = false;
  const store: SessionStore = {
    async load(sessionId, n) {
      reads.push(`${sessionId}/${n}`);
      if (failNext) {
        failNext = false;
        throw new Error("database down");
      }
      return turns.length ? { summary: undefined, summaryThrough: 0, turns: turns.slice(-n) } : undefined;
    },
    async append(_sessionId, turn) {
      turns.push({ id: turns.length + 1, question: turn.question, standaloneQuestion: turn.standaloneQuestion, answer: turn.answer });
      return turns.length;
    },
    async saveSummary() {},
  };
  return { store, reads, failOnce: () => (failNext = true) };
}

const turn = { question: "q", standaloneQuestion: "q", answer: "a", sources: [] };

describe("a request's session store reads a session once until it writes it", () => {
  it("answers the same read from the first, and reads again after an append or a summary", async () => {
    const { store, reads } = counted();
    const once = readOnce(store);
    expect(await once.load("s1", 50)).toBeUndefined();
    expect(await once.load("s1", 50)).toBeUndefined();
    expect(reads).toEqual(["s1/50"]);
    await once.append("s1", turn);
    expect((await once.load("s1", 50))?.turns).toHaveLength(1);
    await once.saveSummary("s1", "summary", 1);
    await once.load("s1", 50);
    expect(reads).toEqual(["s1/50", "s1/50", "s1/50"]);
    // Another session, or another number of turns, is another read.
    await once.load("s2", 50);
    await once.load("s1", 3);
    expect(reads.slice(3)).toEqual(["s2/50", "s1/3"]);
  });

  it("does not keep a failed read", async () => {
    const { store, reads, failOnce } = counted();
    const once = readOnce(store);
    failOnce();
    await expect(once.load("s1", 50)).rejects.toThrow("database down");
    expect(await once.load("s1", 50)).toBeUndefined();
    expect(reads).toEqual(["s1/50", "s1/50"]);
  });
});
