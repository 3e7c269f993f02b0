import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relevanceTerms, termCoverage } from "../../src/context/relevance";
import { resolveCitations } from "../../src/generate/citations";
import type { SourceMessage } from "../../src/providers/chat-model";
import { termStem, words } from "../../src/text/words";

const message = (id: string, authorName: string, text: string): SourceMessage => ({
  id,
  authorName,
  authorType: "human",
  timestamp: "2025-03-03T10:00:00.000Z",
  text,
});
const SOURCES = [
  {
    n: 1,
    id: "chunk-a",
    messages: [
      message("a1", "John", "Morning all."),
      message("a2", "Priya", "The launch moves to June 2 because the load tests failed."),
      message("a3", "John", "Then marketing needs the new date by Friday."),
    ],
  },
  {
    n: 2,
    id: "chunk-b",
    messages: [message("b1", "Aiko", "Invoices now show the tax line."), message("b2", "Aiko", "Support tickets are down 10%.")],
  },
];

describe("citations resolve to the messages they quote", () => {
  it("a quote names its message exactly, ellipses allowed", () => {
    const answer = "From the conversations:\n- Priya (2025-03-03): “The launch moves to June 2 … load tests failed.” [1]";
    expect(resolveCitations(answer, SOURCES)).toEqual([{ n: 1, sourceId: "chunk-a", messageIds: ["a2"] }]);
  });

  it("a paraphrase names the messages sharing most of its words; each marker reads only its own statement", () => {
    const answer = "Priya said the launch slipped to June 2 after failed load tests [1]. Support tickets fell by 10% [2].";
    expect(resolveCitations(answer, SOURCES)).toEqual([
      { n: 1, sourceId: "chunk-a", messageIds: ["a2"] },
      { n: 2, sourceId: "chunk-b", messageIds: ["b2"] },
    ]);
  });

  it("several citations of one source are merged in the source's order; [1, 2] cites both", () => {
    const answer = "Marketing needs the date by Friday [1]. The launch moved to June 2 [1, 2].";
    const resolved = resolveCitations(answer, SOURCES);
    expect(resolved[0]).toEqual({ n: 1, sourceId: "chunk-a", messageIds: ["a2", "a3"] });
    expect(resolved[1]!.n).toBe(2);
  });

  it("a statement sharing no word with the source cites the whole source; unknown numbers and quoted brackets are no citations", () => {
    const answer = "Yes [2]. Someone wrote “see [1]” [7].";
    expect(resolveCitations(answer, SOURCES)).toEqual([{ n: 2, sourceId: "chunk-b", messageIds: ["b1", "b2"] }]);
  });

  it("indices stay right after characters outside the basic plane", () => {
    const answer = "🚀🚀 “The launch moves to June 2” [1] and 🎉 tickets are down [2]";
    expect(resolveCitations(answer, SOURCES).map((c) => c.messageIds)).toEqual([["a2"], ["b2"]]);
  });
});

describe("term coverage measures how much of a question a text speaks to", () => {
  it("is high for the text holding the question's rare terms and low for one sharing a common word", () => {
    const [relevant, unrelated] = termCoverage("What is the contingency plan if the audit uncovers issues?", [
      "If the audit uncovers issues, the contingency plan is to delay the filing.",
      "Support ticket: invoice layout issues and a plan for the new template.",
      "Lunch plan for Friday?",
      "The printer issues are fixed.",
    ])!;
    expect(relevant).toBe(1);
    expect(unrelated).toBeLessThan(0.3);
  });

  it("is undefined for a question without content terms (nothing to measure, no floor)", () => {
    expect(termCoverage("What did they say?", ["anything"])).toBeUndefined();
  });

  it("matches a question's words to their inflections, as keyword search does", () => {
    expect(relevanceTerms("Why did the beta slip?")).toEqual(["beta", "slip"]);
    const [slipped, other] = termCoverage("Why did the beta slip?", [
      "The beta slipped by two weeks because the search service failed load tests.",
      "The beta is on track.",
    ])!;
    expect(slipped).toBe(1);
    expect(other).toBeLessThan(slipped!);
    expect(termCoverage("Who is planning the launches?", ["Priya planned the launch."])).toEqual([1]);
  });
});

describe("the relevance floor's stems", () => {
  // The floor must agree with what keyword search matched: Postgres's english configuration.
  const TEXT =
    "The beta slipped by two weeks; we're planning happier launches, generously funded. Running, ran, runs " +
    "and runner. Stories, storied histories: John's authorisation authorized the organization's organs. " +
    "Dying, lying, skies, news, proceeded, exceeding, succeeded, agreed, feed, fitted, hopped, hoping, " +
    "generalization, communities, conditional, relational, hopefulness, goodness, formalities, electrical.";
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create("memory://");
  }, 60_000); // PGlite's start takes seconds on a loaded machine
  afterAll(async () => {
    await db?.close();
  });

  it("are Postgres's english lexemes for every word it keeps", async () => {
    const vocabulary = [...new Set(words(TEXT))].filter((w) => /^[a-z]+$/.test(w)); // Postgres splits "we're" in two
    const { rows } = await db.query<{ word: string; lexemes: string[] }>(
      "SELECT w AS word, tsvector_to_array(to_tsvector('english', w)) AS lexemes FROM unnest($1::text[]) AS w",
      [vocabulary],
    );
    const kept = rows.filter((r) => r.lexemes.length === 1);
    expect(kept.length).toBeGreaterThan(35);
    expect(kept.map((r) => [r.word, termStem(r.word)])).toEqual(kept.map((r) => [r.word, r.lexemes[0]]));
  });

  it("keep words outside a–z whole", () => {
    expect(termStem("2025")).toBe("2025");
    expect(termStem("встречи")).toBe("встречи");
    expect(termStem("会議")).toBe("会議");
  });
});
