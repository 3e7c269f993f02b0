import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { AppEnv } from "./app-env.ts";
import { notFound } from "./errors.ts";
import { apiKeyAuth, requireAdmin, requireOperator } from "./middleware/auth.ts";
import { requestContext } from "./middleware/context.ts";
import { cors } from "./middleware/cors.ts";
import { onError } from "./middleware/errors.ts";
import { noSniff } from "./middleware/nosniff.ts";
import { observe } from "./middleware/observe.ts";
import { schemaReady } from "./middleware/schema-ready.ts";
import { utf8Url } from "./middleware/url-encoding.ts";
import { openApiRoutes } from "./openapi/route.ts";
import { adminCacheRoutes } from "./routes/admin-cache.ts";
import { adminEmbeddingRoutes } from "./routes/admin-embeddings.ts";
import { adminKeyRoutes } from "./routes/admin-keys.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { healthRoutes } from "./routes/health.ts";
import { importRoutes } from "./routes/imports.ts";
import { meRoutes } from "./routes/me.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { ragRoutes } from "./routes/retrieve.ts";

/** Builds the Hono app: shared middleware, then one route group per file. */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.use(noSniff());
  app.use(requestId({ headerName: "x-request-id" }));
  app.use(requestContext());
  app.use(observe());
  app.use(cors());
  app.use(utf8Url());
  app.onError(onError);
  app.notFound((c) => {
    throw notFound(`no route for ${c.req.method} ${c.req.path}`);
  });

  app.route("/health", healthRoutes);
  app.route("/openapi.json", openApiRoutes);
  // Metrics count every tenant's requests: operators only.
  app.use("/metrics", apiKeyAuth(), requireOperator());
  app.route("/metrics", metricsRoutes);

  app.use("/api/*", apiKeyAuth());
  app.use("/api/admin/*", requireAdmin());
  app.use("/api/conversations/*", schemaReady());
  app.use("/api/conversations", schemaReady());
  app.use("/api/rag/*", schemaReady());
  app.use("/api/imports/*", schemaReady());
  app.use("/api/imports", schemaReady());
  app.route("/api/me", meRoutes);
  app.route("/api/conversations", conversationRoutes);
  app.route("/api/imports", importRoutes);
  app.route("/api/rag", ragRoutes);
  app.route("/api/admin/keys", adminKeyRoutes);
  app.route("/api/admin/cache", adminCacheRoutes);
  app.use("/api/admin/embeddings/*", schemaReady());
  app.use("/api/admin/embeddings", schemaReady());
  app.route("/api/admin/embeddings", adminEmbeddingRoutes);
  return app;
}
