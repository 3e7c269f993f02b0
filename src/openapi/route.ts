import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { openApiJson } from "./document.ts";

/** GET /openapi.json: the OpenAPI 3.1 document for this deployment's configuration; public, as it describes the API, not data. */
export const openApiRoutes = new Hono<AppEnv>().get("/", (c) =>
  c.body(openApiJson(c.var.config), 200, { "content-type": "application/json; charset=UTF-8", "cache-control": "public, max-age=300" }),
);
