// A local server that speaks Upstash Vector's REST protocol over a real vector index, for tests
// and benchmarks: PGlite + pgvector in this process, one table of (namespace, id, vector,
// metadata, data) under an HNSW cosine index, queried with ORDER BY <=> and the request's
// metadata filter compiled to SQL (upstash-vector-filter.ts). @upstash/vector talks to it as to
// Upstash: POST /<command>[/<namespace>] with a JSON body and a Bearer token, answers
// {"result": …} or {"error": …}. Scores are Upstash's for COSINE: (1 + cosine similarity) / 2.
// GET /_requests (no token) lists the commands it ran, so tests can count what reached the index.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { PGlite } from "@electric-sql/pglite";
import { vector as pgvector } from "@electric-sql/pglite-pgvector";
import { FilterError, filterToSql, parseFilter } from "./upstash-vector-filter.ts";

export interface UpstashVectorServer {
  url: string;
  token: string;
  dimension: number;
  /** Commands run so far: command, namespace ("" is the default one) and filter, if any. */
  requests(): VectorRequest[];
  stop(): Promise<void>;
}

export interface VectorRequest {
  command: string;
  namespace: string;
  filter?: string;
}

type Row = { id: string; embedding?: string; metadata: Record<string, unknown> | null; data: string | null; score?: number };
type Body = Record<string, unknown>;

class BadRequest extends Error {}
class NotFound extends Error {}
async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

/** Starts the server on 127.0.0.1 (a free port unless `port` is given) with an empty index of `dimension`. */
export async function startUpstashVectorServer(
  options: { token?: string; dimension?: number; port?: number } = {},
): Promise<UpstashVectorServer> {
  const token = options.token ?? "test-upstash-vector-token";
  const dimension = options.dimension ?? 384;
  const db = await PGlite.create("memory://", { extensions: { vector: pgvector } });
  await db.exec(`
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE vectors (ns text NOT NULL, id text NOT NULL, embedding vector(${dimension}) NOT NULL, metadata jsonb, data text,
      PRIMARY KEY (ns, id));
    CREATE INDEX vectors_embedding ON vectors USING hnsw (embedding vector_cosine_ops);
    -- A filtered query keeps walking the graph until it has topK matches (pgvector 0.8), as Upstash's filtering does.
    SET hnsw.iterative_scan = strict_order;
  `);
  const seen: VectorRequest[] = [];

  const vectorOf = (value: unknown): string => {
    if (!Array.isArray(value) || !value.every((x) => typeof x === "number" && Number.isFinite(x)))
      throw new BadRequest("vector must be an array of numbers");
    if (value.length !== dimension) throw new BadRequest(`Invalid vector dimension: ${value.length}, expected: ${dimension}`);
    return `[${value.join(",")}]`;
  };
  const where = (ns: string, filter: unknown, first: number) => {
    if (filter === undefined || filter === "") return { sql: "ns = $1", params: [ns] as unknown[] };
    if (typeof filter !== "string") throw new BadRequest("filter must be a string");
    const compiled = filterToSql(parseFilter(filter), "metadata", first);
    return { sql: `ns = $1 AND ${compiled.sql}`, params: [ns, ...compiled.params] as unknown[] };
  };
  const shape = (row: Row, body: Body) => ({
    id: row.id,
    ...(row.score !== undefined ? { score: row.score } : {}),
    ...(body.includeVectors && row.embedding ? { vector: JSON.parse(row.embedding) as number[] } : {}),
    ...(body.includeMetadata && row.metadata ? { metadata: row.metadata } : {}),
    ...(body.includeData && row.data !== null ? { data: row.data } : {}),
  });

  async function query(ns: string, body: Body) {
    const topK = Number(body.topK ?? 10);
    if (!Number.isInteger(topK) || topK < 1 || topK > 1000) throw new BadRequest("topK must be between 1 and 1000");
    const v = vectorOf(body.vector);
    const w = where(ns, body.filter, 3);
    const { rows } = await db.query<Row & { distance: number }>(
      `SELECT id, embedding::text AS embedding, metadata, data, embedding <=> $2::vector AS distance FROM vectors
       WHERE ${w.sql} ORDER BY embedding <=> $2::vector LIMIT ${topK}`,
      [ns, v, ...w.params.slice(1)],
    );
    // pgvector's <=> is the cosine distance, 1 - cosine similarity.
    return rows.map((r) => shape({ ...r, score: (1 + (1 - Number(r.distance))) / 2 }, body));
  }

  async function upsert(ns: string, body: unknown) {
    const items = (Array.isArray(body) ? body : [body]) as Body[];
    const rows = items.map((item) => {
      if (typeof item?.id !== "string" && typeof item?.id !== "number") throw new BadRequest("id is required");
      if (item.metadata !== undefined && (typeof item.metadata !== "object" || item.metadata === null || Array.isArray(item.metadata)))
        throw new BadRequest("metadata must be an object");
      if (item.data !== undefined && typeof item.data !== "string") throw new BadRequest("data must be a string");
      return [
        ns,
        String(item.id),
        vectorOf(item.vector),
        item.metadata === undefined ? null : JSON.stringify(item.metadata),
        item.data ?? null,
      ];
    });
    await db.transaction(async (tx) => {
      for (const row of rows)
        await tx.query(
          `INSERT INTO vectors (ns, id, embedding, metadata, data) VALUES ($1, $2, $3::vector, $4::jsonb, $5)
           ON CONFLICT (ns, id) DO UPDATE SET embedding = excluded.embedding, metadata = excluded.metadata, data = excluded.data`,
          row,
        );
    });
    return "Success";
  }

  async function fetchIds(ns: string, body: Body) {
    if (typeof body.prefix === "string") {
      const { rows } = await db.query<Row>(
        "SELECT id, embedding::text AS embedding, metadata, data FROM vectors WHERE ns = $1 AND starts_with(id, $2) ORDER BY id",
        [ns, body.prefix],
      );
      return rows.map((r) => shape(r, body));
    }
    if (!Array.isArray(body.ids)) throw new BadRequest("ids or prefix is required");
    const ids = body.ids.map(String);
    const { rows } = await db.query<Row>(
      "SELECT id, embedding::text AS embedding, metadata, data FROM vectors WHERE ns = $1 AND id = ANY($2::text[])",
      [ns, ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => (byId.has(id) ? shape(byId.get(id)!, body) : null));
  }

  async function remove(ns: string, body: Body) {
    let result: { affectedRows?: number };
    if (Array.isArray(body.ids))
      result = await db.query("DELETE FROM vectors WHERE ns = $1 AND id = ANY($2::text[])", [ns, body.ids.map(String)]);
    else if (typeof body.prefix === "string")
      result = await db.query("DELETE FROM vectors WHERE ns = $1 AND starts_with(id, $2)", [ns, body.prefix]);
    else if (typeof body.filter === "string") {
      const w = where(ns, body.filter, 2);
      result = await db.query(`DELETE FROM vectors WHERE ${w.sql}`, w.params);
    } else throw new BadRequest("ids, prefix or filter is required");
    return { deleted: result.affectedRows ?? 0 };
  }

  async function range(ns: string, body: Body) {
    const limit = Number(body.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new BadRequest("limit must be between 1 and 1000");
    const cursor = typeof body.cursor === "string" ? body.cursor : String(body.cursor ?? "");
    const prefix = typeof body.prefix === "string" ? body.prefix : "";
    const { rows } = await db.query<Row>(
      `SELECT id, embedding::text AS embedding, metadata, data FROM vectors WHERE ns = $1 AND id > $2 AND starts_with(id, $3)
       ORDER BY id COLLATE "C" LIMIT ${limit + 1}`,
      [ns, cursor === "0" ? "" : cursor, prefix],
    );
    const page = rows.slice(0, limit);
    return { nextCursor: rows.length > limit ? page.at(-1)!.id : "", vectors: page.map((r) => shape(r, body)) };
  }

  async function namespaces(): Promise<Map<string, number>> {
    const { rows } = await db.query<{ ns: string; n: number }>("SELECT ns, count(*)::int AS n FROM vectors GROUP BY ns ORDER BY ns");
    return new Map([["", 0], ...rows.map((r) => [r.ns, r.n] as [string, number])]);
  }

  async function run(command: string, ns: string, search: string, body: unknown): Promise<unknown> {
    const object = (body ?? {}) as Body;
    switch (command) {
      case "upsert":
        return upsert(ns, body);
      case "query":
        return Array.isArray(body) ? Promise.all(body.map((b) => query(ns, b as Body))) : query(ns, object);
      case "fetch":
        return fetchIds(ns, object);
      case "delete":
        return remove(ns, object);
      case "range":
        return range(ns, object);
      case "reset":
        await (search === "all" ? db.query("DELETE FROM vectors") : db.query("DELETE FROM vectors WHERE ns = $1", [ns]));
        return "Success";
      case "info": {
        const all = await namespaces();
        const count = [...all.values()].reduce((a, b) => a + b, 0);
        return {
          vectorCount: count,
          pendingVectorCount: 0,
          indexSize: count * dimension * 4,
          dimension,
          similarityFunction: "COSINE",
          namespaces: Object.fromEntries([...all].map(([name, n]) => [name, { vectorCount: n, pendingVectorCount: 0 }])),
        };
      }
      case "list-namespaces":
        return [...(await namespaces()).keys()];
      case "delete-namespace": {
        if (ns === "") throw new BadRequest("Cannot delete the default namespace");
        if (!(await namespaces()).has(ns)) throw new BadRequest(`Namespace ${ns} does not exist`);
        await db.query("DELETE FROM vectors WHERE ns = $1", [ns]);
        return "Success";
      }
      default:
        throw new NotFound(`no command ${command}`);
    }
  }

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET" && url.pathname === "/_requests") return send(200, seen);
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: "Unauthorized: Invalid auth token" });
    const [command = "", ...rest] = url.pathname.slice(1).split("/");
    const ns = decodeURIComponent(rest.join("/"));
    try {
      const text = await readBody(req);
      const body: unknown = text ? JSON.parse(text) : undefined;
      const filter = typeof (body as Body | undefined)?.filter === "string" ? ((body as Body).filter as string) : undefined;
      seen.push({ command, namespace: ns, ...(filter !== undefined ? { filter } : {}) });
      send(200, { result: await run(command, ns, url.search.slice(1), body) });
    } catch (err) {
      if (err instanceof NotFound) return send(404, { error: err.message });
      if (err instanceof BadRequest || err instanceof FilterError || err instanceof SyntaxError)
        return send(400, { error: err instanceof FilterError ? `Invalid filter: ${err.message}` : err.message });
      send(500, { error: err instanceof Error ? err.message : String(err) });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    dimension,
    requests: () => seen,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await db.close();
    },
  };
}
