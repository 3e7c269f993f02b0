// A local OpenAI-compatible HTTP server for tests and benchmarks: the real SDK talks to it over
// the real wire format (embeddings; chat completions, streamed as SSE chunks or not). Each test
// uses its own path prefix (/<scenario>/v1), so recorded calls and injected behaviour never leak
// between tests that run at the same time. POST /<scenario>/_control sets a scenario's behaviour.

import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface RecordedCall {
  path: string;
  authorization: string | undefined;
  body: {
    model?: string;
    input?: string | string[];
    dimensions?: number;
    encoding_format?: string;
    messages?: { role: string; content: string }[];
    temperature?: number;
    max_tokens?: number;
    stream?: boolean;
  };
  /** Chat streams: whether the client closed the connection before the stream ended. */
  aborted?: boolean;
  finished?: boolean;
}

/** How the fake chat model behaves in a scenario. */
export interface ChatBehaviour {
  /** The streamed answer (default: one sentence citing [1]). */
  text?: string;
  /** Reply of a non-streamed completion (follow-up rewrites, summaries). */
  completion?: string;
  /** Delay before the first streamed piece, and between pieces. */
  firstTokenDelayMs?: number;
  tokenDelayMs?: number;
  /** Words per streamed piece (default 3). */
  wordsPerPiece?: number;
  /** Send headers, then nothing at all. */
  hang?: boolean;
  /** Reset the connection after this many pieces. */
  failAfterPieces?: number;
}

interface Scenario {
  calls: RecordedCall[];
  /** Answer calls after the first `failAfter` ones with `failStatus`. */
  failAfter?: number;
  failStatus?: number;
  /** Retry-After header (seconds) sent with those failures. */
  failRetryAfter?: number;
  /** Fail only the next this many calls (then answer normally). */
  failTimes?: number;
  chat?: ChatBehaviour;
  /** Latency of an embeddings call. */
  embeddingDelayMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A deterministic unit vector for a text: the same text always maps to the same vector. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const v: number[] = [];
  let seed = createHash("sha256").update(text).digest();
  while (v.length < dimensions) {
    for (let i = 0; i + 1 < seed.length && v.length < dimensions; i += 2) v.push((seed.readUInt16LE(i) / 65535) * 2 - 1);
    seed = createHash("sha256").update(seed).digest();
  }
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

/** A chat completion: streamed as chat.completion.chunk SSE events with usage last, or one JSON body. */
async function chat(behaviour: ChatBehaviour, call: RecordedCall, res: ServerResponse): Promise<void> {
  const { body } = call;
  const model = body.model ?? "fake-model";
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = (body.messages ?? []).reduce((n, m) => n + Math.ceil(m.content.length / 4), 0);
  if (!body.stream) {
    const content = behaviour.completion ?? "A rewritten question?";
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: "chatcmpl-fake",
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: Math.ceil(content.length / 4),
          total_tokens: promptTokens + Math.ceil(content.length / 4),
        },
      }),
    );
    call.finished = true;
    return;
  }
  res.on("close", () => {
    if (!res.writableEnded) call.aborted = true;
  });
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  if (behaviour.hang) return;
  const text = behaviour.text ?? "The excerpts answer this [1].";
  const words = text.match(/\s*\S+/g) ?? [];
  const per = behaviour.wordsPerPiece ?? 3;
  const chunk = (delta: object, finish: string | null, usage?: object) =>
    `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created, model, choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
  await sleep(behaviour.firstTokenDelayMs ?? 0);
  let pieces = 0;
  for (let i = 0; i < words.length; i += per) {
    if (res.destroyed) return;
    if (i > 0 && behaviour.tokenDelayMs) await sleep(behaviour.tokenDelayMs);
    if (behaviour.failAfterPieces !== undefined && pieces >= behaviour.failAfterPieces) {
      res.destroy();
      return;
    }
    res.write(
      chunk(
        i === 0 ? { role: "assistant", content: words.slice(i, i + per).join("") } : { content: words.slice(i, i + per).join("") },
        null,
      ),
    );
    pieces++;
  }
  if (res.destroyed) return;
  const completionTokens = Math.ceil(text.length / 4);
  res.write(chunk({}, "stop"));
  res.write(
    chunk({}, null, { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }),
  );
  res.end("data: [DONE]\n\n");
  call.finished = true;
}

export async function startFakeOpenAI(port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const scenarios = new Map<string, Scenario>();
  const scenario = (id: string) => {
    let s = scenarios.get(id);
    if (!s) scenarios.set(id, (s = { calls: [] }));
    return s;
  };
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const match = req.url?.match(/^\/([\w-]+)(\/.*)$/);
    if (!match) return send(404, { error: { message: "unknown path" } });
    const [, id, path] = match as unknown as [string, string, string];
    const s = scenario(id);
    const text = await readBody(req);

    if (path === "/_calls") return send(200, s.calls);
    if (path === "/_control") {
      Object.assign(s, JSON.parse(text) as Partial<Scenario>);
      return send(200, { ok: true });
    }
    if ((path !== "/v1/embeddings" && path !== "/v1/chat/completions") || req.method !== "POST") {
      return send(404, { error: { message: `no route ${req.method} ${path}` } });
    }

    const body = JSON.parse(text) as RecordedCall["body"];
    const call: RecordedCall = { path, authorization: req.headers.authorization, body };
    s.calls.push(call);
    if (s.failTimes) {
      s.failTimes--;
      if (s.failRetryAfter !== undefined) res.setHeader("retry-after", String(s.failRetryAfter));
      return send(s.failStatus ?? 500, { error: { message: "injected failure", type: "server_error" } });
    }
    if (s.failAfter !== undefined && s.calls.length > s.failAfter) {
      if (s.failRetryAfter !== undefined) res.setHeader("retry-after", String(s.failRetryAfter));
      return send(s.failStatus ?? 500, { error: { message: "injected failure", type: "server_error" } });
    }
    if (path === "/v1/chat/completions") return chat(s.chat ?? {}, call, res);
    const inputs = typeof body.input === "string" ? [body.input] : (body.input ?? []);
    const dimensions = body.dimensions ?? 1536;
    if (s.embeddingDelayMs) await sleep(s.embeddingDelayMs);
    send(200, {
      object: "list",
      model: body.model,
      data: inputs.map((input, index) => {
        const vector = fakeEmbedding(input, dimensions);
        const embedding = body.encoding_format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector;
        return { object: "embedding", index, embedding };
      }),
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("fake OpenAI server has no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
