import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodesToUtf8, queryEncodingProblems } from "../../src/http/percent-encoding.ts";

const percentEncoded = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
const isUtf8 = (bytes: Uint8Array) => {
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    return true;
  } catch {
    return false;
  }
};

describe("decodesToUtf8", () => {
  it("agrees with a strict UTF-8 decoder on any bytes, with or without text around them", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), fc.constantFrom("", "a", "%", "%2", "é"), (bytes, around) => {
        expect(decodesToUtf8(`${around}${percentEncoded(bytes)}${around}`)).toBe(isUtf8(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("accepts what encodeURIComponent makes of any well-formed text", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (text) => decodesToUtf8(encodeURIComponent(text))));
  });

  it("refuses lone surrogates, overlong forms, truncated sequences and code points past U+10FFFF", () => {
    for (const bad of ["%ED%A0%80", "%ED%BF%BF", "%C0%AF", "%E0%80%AF", "%E2%82", "%F0%9F%98", "%80", "%FF", "%F4%90%80%80"]) {
      expect(decodesToUtf8(`a${bad}b`), bad).toBe(false);
    }
    // Each run must be whole on its own: a literal character between the bytes breaks the sequence.
    expect(decodesToUtf8("%C3x%A9")).toBe(false);
    expect(decodesToUtf8("100%")).toBe(true);
  });
});

describe("queryEncodingProblems", () => {
  const notUtf8 = "is not valid UTF-8 percent-encoding";

  it("names each bad value by its decoded name and each bad name as sent", () => {
    expect(queryEncodingProblems("?caf%C3%A9=%FF&ok=1&a%ED%A0%80b=1&flag&x+y=%C0%AF&a%2Fb=%80")).toEqual([
      { pointer: "#/café", detail: notUtf8 },
      { pointer: "#/a%ED%A0%80b", detail: notUtf8 },
      { pointer: "#/x y", detail: notUtf8 },
      { pointer: "#/a~1b", detail: notUtf8 },
    ]);
  });

  it("finds nothing in a query string that decodes", () => {
    expect(queryEncodingProblems("")).toEqual([]);
    expect(queryEncodingProblems("?q=caf%C3%A9+%F0%9F%98%80&p=100%&=&&")).toEqual([]);
  });
});
