// A real Redis (redis-server, from Debian's package) behind Upstash's REST protocol, for tests:
// @upstash/redis in the Worker speaks HTTP to this bridge, which runs each command on the real
// server. POST / takes one command as a JSON array, POST /pipeline an array of them; answers are
// {"result": …} or {"error": …}, base64-encoded when the client sends Upstash-Encoding: base64.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createClient } from "redis";
import { freePort } from "./free-port.ts";
import { stopWithThisProcess } from "./watchdog.ts";

export interface UpstashBridge {
  url: string;
  token: string;
  /** Commands the bridge has run, so tests can count what reached Redis. */
  commands(): string[][];
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

const encode = (value: unknown): unknown =>
  typeof value === "string" ? Buffer.from(value, "utf8").toString("base64") : Array.isArray(value) ? value.map(encode) : value;

/** Starts redis-server on a free port and the bridge in front of it. */
export async function startUpstashBridge(token = "test-upstash-token"): Promise<UpstashBridge> {
  const redisPort = await freePort();
  let redis: ChildProcess;
  try {
    redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    await new Promise<void>((resolve, reject) => {
      redis.once("error", reject);
      setTimeout(resolve, 300);
    });
    stopWithThisProcess(redis.pid!);
  } catch (err) {
    throw new Error(
      `redis-server could not start (${String(err)}); install Debian's redis-server package: the Upstash cache tests run against a real Redis`,
    );
  }
  const client = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  for (let i = 0; ; i++) {
    try {
      await client.connect();
      break;
    } catch (err) {
      if (i > 30) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const seen: string[][] = [];
  const run = async (command: unknown[]) => {
    const args = command.map(String);
    seen.push(args);
    try {
      return { result: await client.sendCommand(args) };
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  };
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/_commands") return send(200, seen);
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: "Unauthorized" });
    const base64 = req.headers["upstash-encoding"] === "base64";
    const shape = (r: { result?: unknown; error?: string }) => (base64 && "result" in r ? { result: encode(r.result) } : r);
    const body = JSON.parse(await readBody(req)) as unknown[];
    if (req.url === "/" || req.url === "") {
      const r = await run(body);
      return send(r.error ? 400 : 200, shape(r));
    }
    if (req.url === "/pipeline" || req.url === "/multi-exec") {
      const results = [];
      for (const command of body as unknown[][]) results.push(shape(await run(command)));
      return send(200, results);
    }
    send(404, { error: `no route ${req.url}` });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    commands: () => seen,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await client.quit().catch(() => {});
      redis.kill("SIGTERM");
    },
  };
}
