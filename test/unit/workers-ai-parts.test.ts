import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { batcherName } from "../../src/durable/embedding-batcher-client";
import { sseData } from "../../src/providers/sse-data";
import { gatewayOption, workersAiEndpoint, workersAiStatus } from "../../src/providers/workers-ai-binding";

const bytes = (...parts: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
      controller.close();
    },
  });

async function all(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const data of sseData(body, new AbortController().signal)) out.push(data);
  return out;
}

describe("Workers AI parts", () => {
  it("reads the documented status from the code the binding's message starts with", () => {
    expect(workersAiStatus(new Error("3040: Capacity temporarily exceeded, please try again."))).toBe(429);
    expect(workersAiStatus(new Error("InferenceUpstreamError: 5007: No such model"))).toBe(400);
    expect(workersAiStatus(new Error("3007: Request timeout"))).toBe(408);
    // An unknown code, or none, has no status.
    expect(workersAiStatus(new Error("1101: Worker threw exception"))).toBeUndefined();
    expect(workersAiStatus(new Error("Network connection lost."))).toBeUndefined();
  });

  it("skips the gateway's cache unless it is turned on, and sends no gateway without an id", () => {
    expect(gatewayOption(parseConfig({}).workersAi)).toBeUndefined();
    expect(gatewayOption(parseConfig({ AI_GATEWAY_ID: "g" }).workersAi)).toEqual({ id: "g", skipCache: true });
    expect(gatewayOption(parseConfig({ AI_GATEWAY_ID: "g", AI_GATEWAY_CACHE_TTL_SECONDS: "60" }).workersAi)).toEqual({
      id: "g",
      skipCache: true,
    });
    expect(gatewayOption(parseConfig({ AI_GATEWAY_ID: "g", AI_GATEWAY_CACHE: "on" }).workersAi)).toEqual({ id: "g", skipCache: false });
  });

  it("names breakers, budgets and batchers per model and gateway", () => {
    const chat = (vars: Record<string, string>) => workersAiEndpoint(parseConfig({ CHAT_PROVIDER: "workers-ai", ...vars }));
    expect(chat({})).toBe("workers-ai:direct:@cf/meta/llama-3.3-70b-instruct-fp8-fast");
    expect(chat({ AI_GATEWAY_ID: "a" })).not.toBe(chat({ AI_GATEWAY_ID: "b" }));
    const embed = (vars: Record<string, string>) =>
      batcherName("acme", parseConfig({ EMBEDDING_PROVIDER: "workers-ai", EMBEDDING_BATCHER_SHARDS: "1", ...vars }));
    expect(embed({ AI_GATEWAY_ID: "a" })).not.toBe(embed({ AI_GATEWAY_ID: "b" }));
    expect(embed({ EMBEDDING_MODEL: "@cf/baai/bge-base-en-v1.5", EMBEDDING_DIMENSIONS: "768" })).not.toBe(embed({}));
  });

  it("parses event-stream data across arbitrary byte slices, CRLF lines and multi-line data", async () => {
    const stream = 'data: {"response":"Hel"}\n\ndata: {"respo' + 'nse":"lo"}\r\n\r\n: keep-alive\n\ndata: a\ndata: b\n\ndata: [DONE]\n\n';
    const cuts = [5, 17, 30, 41, 60];
    const parts = cuts.map((c, i) => stream.slice(i === 0 ? 0 : cuts[i - 1], c)).concat(stream.slice(cuts.at(-1)));
    expect(await all(bytes(...parts))).toEqual(['{"response":"Hel"}', '{"response":"lo"}', "a\nb", "[DONE]"]);
    // A last event without its blank line still counts.
    expect(await all(bytes("data: x"))).toEqual(["x"]);
  });

  it("cancels the body when the reader stops early", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("data: more\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const data of sseData(body, new AbortController().signal)) {
      expect(data).toBe("more");
      break;
    }
    expect(cancelled).toBe(true);
  });
});
