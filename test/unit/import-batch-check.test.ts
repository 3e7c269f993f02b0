import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { checkBatch } from "../../src/imports/batch-check";
import { type ConversationBatch, ImportError } from "../../src/imports/format";
import { ingestSchema } from "../../src/ingest/ingest-schema";

const schema = ingestSchema(parseConfig({}));
const message = (id: string, text = "hi") => ({ id, author_name: "Ana", author_type: "human", text, timestamp: "2024-01-15T10:00:00Z" });

function check(batch: ConversationBatch, fitted = new Set<string>()) {
  const skipped: [string, string][] = [];
  const fit = checkBatch(schema, batch, (where, reason) => skipped.push([where, reason]), fitted);
  return { fit, skipped };
}

describe("checkBatch: a parsed batch as ingest will take it", () => {
  it("skips a message ingest refuses and a repeated id, naming the rule", () => {
    const { fit, skipped } = check({ id: "c", title: null, messages: [message("1"), message("2", " "), message("1", "again")] });
    expect(fit?.messages.map((m) => m.id)).toEqual(["1"]);
    expect(skipped).toEqual([
      ["conversation 'c', message '2'", "text: must not be empty"],
      ["conversation 'c', message '1'", "a second message with this id in the export"],
    ]);
  });

  it("is undefined when no message is left", () => {
    expect(check({ id: "c", title: null, messages: [message("x", "")] }).fit).toBeUndefined();
  });

  it("cuts a long title and long metadata texts once per conversation, never inside a surrogate pair", () => {
    const fitted = new Set<string>();
    const title = `${"a".repeat(999)}😀 and more`;
    const metadata = { purpose: "p".repeat(70_000), topic: "short" };
    const first = check({ id: "c", title, metadata, messages: [message("1")] }, fitted);
    expect(first.fit?.title).toBe("a".repeat(999));
    expect(first.fit?.metadata).toEqual({ purpose: "p".repeat(2000), topic: "short" });
    expect(first.skipped).toEqual([
      ["conversation 'c'", "title cut to its first 1000 characters"],
      ["conversation 'c'", "metadata purpose cut to its first 2000 characters"],
    ]);
    expect(check({ id: "c", title, metadata, messages: [message("2")] }, fitted).skipped).toEqual([]);
  });

  it("fails, naming the conversation and the field, when the conversation cannot be stored", () => {
    const error = (() => {
      try {
        check({ id: "c", title: null, metadata: { list: Array.from({ length: 20_000 }, (_, i) => i) }, messages: [message("1")] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ImportError);
    expect([(error as ImportError).where, (error as ImportError).detail]).toEqual([
      "conversation 'c'",
      "metadata: must serialise to at most 64 KiB of JSON",
    ]);
  });
});
