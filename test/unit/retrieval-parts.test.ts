import { describe, expect, it } from "vitest";
import { keySentences } from "../../src/context/compress";
import { analyseQuery, findSpeakers, toStatement } from "../../src/retrieve/query-analysis";
import { rrf } from "../../src/retrieve/rrf";
import { parseTimeExpression } from "../../src/retrieve/time-expressions";
import { queryTerms } from "../../src/text/words";
import { tiktoken } from "../../src/tokens/tokenizer";

const tokenizer = await tiktoken();

describe("rrf", () => {
  it("ranks an item found by several lists above items found once, and reports its ranks", () => {
    const fused = rrf(
      [
        ["a", "b", "c"],
        ["b", "d"],
      ],
      (x) => x,
      60,
    );
    expect(fused.map((f) => f.item)).toEqual(["b", "a", "d", "c"]);
    expect(fused[0]!.ranks).toEqual([2, 1]);
    expect(fused[0]!.score).toBeCloseTo(1 / 62 + 1 / 61, 10);
  });

  it("weights lists and counts an item once per list", () => {
    const fused = rrf(
      [
        { items: ["a", "a"], weight: 1 },
        { items: ["b"], weight: 2 },
      ],
      (x) => x,
      60,
    );
    expect(fused.map((f) => [f.item, f.score])).toEqual([
      ["b", 2 / 61],
      ["a", 1 / 61],
    ]);
  });
});

describe("query analysis", () => {
  it("turns a question into a statement", () => {
    expect(toStatement("When did Caroline go to the support group?")).toBe("Caroline go to the support group");
    expect(toStatement("How many people came?")).toBe("people came");
    expect(toStatement("Budget for Q3")).toBe("Budget for Q3");
  });

  it("finds speakers by full or first name, not by common words", () => {
    expect(findSpeakers("what did john say?", ["John Smith", "Mary", "Al", "The Bot"])).toEqual(["John Smith"]);
    expect(findSpeakers("the plan", ["The Bot"])).toEqual([]);
  });

  it("builds variants without repeating the query", () => {
    const a = analyseQuery("What did Marco say about the leak?", ["Marco", "Priya"], new Date());
    expect(a.speakers).toEqual(["Marco"]);
    expect(a.variants.map((v) => v.kind)).toEqual(["statement", "content_words", "without_speaker"]);
    expect(a.variants.find((v) => v.kind === "without_speaker")!.text).toBe("say leak");
  });
});

describe("parseTimeExpression", () => {
  const now = new Date("2025-06-18T12:00:00Z"); // a Wednesday
  it.each([
    ["what happened in May 2023", "2023-05-01", "2023-06-01"],
    ["on May 7, 2023", "2023-05-07", "2023-05-08"],
    ["on 7 May 2023", "2023-05-07", "2023-05-08"],
    ["during 2022", "2022-01-01", "2023-01-01"],
    ["last week", "2025-06-09", "2025-06-16"],
    ["yesterday", "2025-06-17", "2025-06-18"],
    ["last month", "2025-05-01", "2025-06-01"],
  ])("%s", (query, from, to) => {
    const range = parseTimeExpression(query, now)!;
    expect([range.from.toISOString().slice(0, 10), range.to.toISOString().slice(0, 10)]).toEqual([from, to]);
  });

  it("finds nothing in a query without one", () => {
    expect(parseTimeExpression("what did John say about the timeline", now)).toBeUndefined();
  });
});

describe("compression of a budgeted hit", () => {
  const chunk = {
    text: [
      "[2025-03-01 10:00] Ann: Morning, everyone.",
      "[10:01] Bob: Did the export finish overnight?",
      "[10:02] Ann: It failed again with a timeout after ten minutes.",
      "[10:03] Bob: Let's split it by quarter then.",
      "[2025-03-02 09:00] Ann: Weekend plans anyone?",
      "[09:01] Bob: Hiking, if the weather holds.",
    ].join("\n"),
    messageIds: ["m1", "m2", "m3", "m4", "m5", "m6"],
    authors: ["Ann", "Bob"],
    start: new Date("2025-03-01T10:00:00Z"),
    tokens: 80,
  };

  it("keeps the messages with query terms and the reply to them, dated", () => {
    const out = keySentences(chunk, { terms: new Set(queryTerms("why did the export end in a timeout?")), tokenizer })!;
    expect(out.messageIds).toEqual(["m2", "m3", "m4"]);
    expect(out.text.split("\n")[0]).toBe("[2025-03-01 10:01] Bob: Did the export finish overnight?");
  });

  it("dates a first kept line after a day change with that day", () => {
    const out = keySentences(chunk, { terms: new Set(queryTerms("hiking weather")), tokenizer, namesAndDates: false })!;
    expect(out.text).toBe("[2025-03-02 09:01] Bob: Hiking, if the weather holds.");
    expect(out.messageIds).toEqual(["m6"]);
  });
});
