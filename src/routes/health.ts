import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { dimensionMismatch, readSchemaStatus } from "../db/schema.ts";

/** GET /health: liveness and readiness (database reachable, migrations applied, embedding size matches). */
export const healthRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const started = Date.now();
  try {
    const status = await readSchemaStatus(c.var.sql());
    const mismatch = dimensionMismatch(status, c.var.config.embedding.dimensions);
    const ready = status.pending.length === 0 && !mismatch;
    return c.json(
      {
        status: ready ? "ok" : "not_ready",
        database: { reachable: true, latency_ms: Date.now() - started },
        migrations: { applied: status.applied, pending: status.pending },
        embedding: {
          provider: c.var.config.embedding.provider,
          model: c.var.config.embedding.model,
          dimensions: c.var.config.embedding.dimensions,
          schema_dimensions: status.embeddingDimensions ?? null,
          ...(mismatch ? { error: mismatch } : {}),
        },
      },
      ready ? 200 : 503,
    );
  } catch {
    return c.json({ status: "not_ready", database: { reachable: false } }, 503, { "retry-after": "5" });
  }
});
