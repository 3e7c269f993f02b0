// A local OpenAI-compatible HTTP server for tests: the real SDK talks to it over the real wire
// format. Each test uses its own path prefix (/<scenario>/v1), so recorded calls and injected
// failures never leak between tests that run at the same time.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createHash } from "node:crypto";

export interface RecordedCall {
  path: string;
  authorization: string | undefined;
  body: { model?: string; input?: string | string[]; dimensions?: number; encoding_format?: string };
}

interface Scenario {
  calls: RecordedCall[];
  /** Answer calls after the first `failAfter` ones with `failStatus`. */
  failAfter?: number;
  failStatus?: number;
}

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

export async function startFakeOpenAI(): Promise<{ url: string; close(): Promise<void> }> {
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
    if (path !== "/v1/embeddings" || req.method !== "POST") return send(404, { error: { message: `no route ${req.method} ${path}` } });

    const body = JSON.parse(text) as RecordedCall["body"];
    s.calls.push({ path, authorization: req.headers.authorization, body });
    if (s.failAfter !== undefined && s.calls.length > s.failAfter) {
      return send(s.failStatus ?? 500, { error: { message: "injected failure", type: "server_error" } });
    }
    const inputs = typeof body.input === "string" ? [body.input] : (body.input ?? []);
    const dimensions = body.dimensions ?? 1536;
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("fake OpenAI server has no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
