import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterError, filterToSql, parseFilter } from "../../scripts/lib/upstash-vector-filter.ts";

describe("Upstash Vector filter parser", () => {
  it("parses comparisons, CONTAINS, AND before OR, and parentheses", () => {
    expect(parseFilter("scope = 'a' AND expires > 10 OR deps CONTAINS \"d\"")).toEqual({
      kind: "or",
      parts: [
        {
          kind: "and",
          parts: [
            { kind: "compare", field: ["scope"], op: "=", value: "a" },
            { kind: "compare", field: ["expires"], op: ">", value: 10 },
          ],
        },
        { kind: "contains", field: ["deps"], value: "d" },
      ],
    });
    expect(parseFilter("a.b <= -1.5 and (c != 'x' or d >= 2)")).toEqual({
      kind: "and",
      parts: [
        { kind: "compare", field: ["a", "b"], op: "<=", value: -1.5 },
        {
          kind: "or",
          parts: [
            { kind: "compare", field: ["c"], op: "!=", value: "x" },
            { kind: "compare", field: ["d"], op: ">=", value: 2 },
          ],
        },
      ],
    });
  });

  it.each([
    ["", "empty filter"],
    ["scope GLOB 'a*'", "expected an operator"],
    ["scope IN ('a', 'b')", "unexpected character"],
    ["scope = 'a' AND", "expected a field name"],
    ["(scope = 'a'", "expected ')'"],
    ["scope = 'a')", "expected AND, OR or the end"],
    ["scope = a", "expected a string or number literal"],
    ["scope = 'a'; DROP TABLE vectors", "unexpected character"],
    ["HAS FIELD scope", "expected an operator"],
    ["scope = 'unterminated", "unexpected character"],
  ])("refuses %j", (source, message) => {
    expect(() => parseFilter(source)).toThrow(FilterError);
    expect(() => parseFilter(source)).toThrow(message);
  });
});

describe("Upstash Vector filter on Postgres", () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create("memory://");
    await db.exec(`CREATE TABLE t (id int, metadata jsonb);
      INSERT INTO t VALUES (1, '{"scope":"a","expires":100,"deps":["d","c1"]}'), (2, '{"scope":"b","expires":5,"deps":["c2"]}'),
        (3, '{"scope":"a","expires":"100"}'), (4, '{"nested":{"n":3}}')`);
  }, 60_000); // PGlite's start takes seconds on a loaded machine
  afterAll(() => db.close());
  const ids = async (source: string) => {
    const { sql, params } = filterToSql(parseFilter(source), "metadata");
    return (await db.query<{ id: number }>(`SELECT id FROM t WHERE ${sql} ORDER BY id`, params)).rows.map((r) => r.id);
  };

  it("matches like Upstash: typed comparisons, arrays by CONTAINS, nested fields, precedence", async () => {
    expect(await ids("scope = 'a'")).toEqual([1, 3]);
    expect(await ids("expires > 10")).toEqual([1]); // "100" is a string: never compared as a number
    expect(await ids("expires <= 5 OR scope != 'a'")).toEqual([2]);
    expect(await ids("deps CONTAINS 'c1' OR deps CONTAINS 'c2'")).toEqual([1, 2]);
    expect(await ids("scope = 'a' AND expires > 10 OR deps CONTAINS 'c2'")).toEqual([1, 2]);
    expect(await ids("scope = 'a' AND (expires > 10 OR deps CONTAINS 'c2')")).toEqual([1]);
    expect(await ids("nested.n >= 3")).toEqual([4]);
  });

  it("passes literals as parameters, never as SQL", async () => {
    const { sql, params } = filterToSql(parseFilter('scope = "a\' OR true --"'), "metadata");
    expect(sql).not.toContain("OR true");
    expect(params).toEqual(["a' OR true --"]);
    expect(await ids('scope = "a\' OR true --"')).toEqual([]);
  });
});
