// The README's streaming example pipes the SSE events of an ask through a `node -e` filter that
// must print the answer text alone, decoded, as it arrives. This runs that exact filter (from the
// README) over recorded events; test/e2e/npm-start.test.ts runs the whole pipeline against the API.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { readmeStreamingAsk } from "../helpers/readme-commands";

const { filter } = readmeStreamingAsk();

function startFilter() {
  const child = spawn("bash", ["-c", filter], { stdio: ["pipe", "pipe", "pipe"] });
  const seen = { out: "", err: "" };
  child.stdout.setEncoding("utf8").on("data", (d: string) => (seen.out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (seen.err += d));
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  /** Resolves once the filter has printed `text`. */
  const printed = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => seen.out.includes(text) && resolve();
      child.stdout.on("data", check);
      check();
    });
  return { child, seen, exited, printed };
}

const event = (name: string, data: unknown, id?: number) =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

describe("the README's streaming filter", () => {
  it("prints only the text of delta events, JSON-decoded, whatever else the stream carries", async () => {
    const body =
      event("meta", { request_id: "r", sources: [{ text: "a source: never printed" }], cache: "MISS" }, 1) +
      ": a comment line\n" +
      event("delta", { text: 'John said "ship it" on Friday,\n' }, 2) +
      // Escapes as JSON.parse must undo them: \u00e9, a surrogate pair, a backslash, a tab.
      'id: 3\nevent: delta\ndata:{"text":"caf\\u00e9 \\ud83c\\udf89 back\\\\slash\\ttab "}\n\n' +
      event("delta", { text: "naïve – 日本語 🎉 [1]" }) +
      // Events after an id-less one, and with CRLF line ends.
      event("delta", { text: " (end)" }, 5).replaceAll("\n", "\r\n") +
      event("done", { text: "not this either", usage: { prompt_tokens: 1 } }, 6);
    const run = startFilter();
    run.child.stdin.end(body);
    expect(await run.exited).toBe(0);
    expect(run.seen.out).toBe('John said "ship it" on Friday,\ncafé 🎉 back\\slash\ttab naïve – 日本語 🎉 [1] (end)\n');
    expect(run.seen.err).toBe("");
  }, 30_000);

  it("prints each piece as it arrives, also when a character's bytes are split between reads", async () => {
    const run = startFilter();
    run.child.stdin.write(event("meta", { sources: [] }) + event("delta", { text: "First piece. " }));
    // The stream is still open: the first piece must be out before the rest is sent.
    await run.printed("First piece. ");
    const rest = Buffer.from(event("delta", { text: "Then 🎉 and é." }) + event("done", {}));
    const cut = rest.indexOf(Buffer.from("🎉")) + 2;
    run.child.stdin.write(rest.subarray(0, cut));
    run.child.stdin.end(rest.subarray(cut));
    expect(await run.exited).toBe(0);
    expect(run.seen.out).toBe("First piece. Then 🎉 and é.\n");
  }, 30_000);

  it("writes an error event's detail to stderr, apart from the answer", async () => {
    const run = startFilter();
    run.child.stdin.end(
      event("meta", {}) +
        event("delta", { text: "Half an answer" }) +
        event("error", { type: "urn:convo-rag:problem:generation-failed", status: 502, detail: "the answer ended before it was complete" }),
    );
    expect(await run.exited).toBe(0);
    expect(run.seen.out).toBe("Half an answer\n");
    expect(run.seen.err).toBe("the answer ended before it was complete\n");
  }, 30_000);
});
