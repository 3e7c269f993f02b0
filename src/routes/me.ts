import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { noQuery } from "../http/validate.ts";

/** GET /api/me: what the request's key is (its tenant and role), so a client can show what it may do without trying. */
export const meRoutes = new Hono<AppEnv>().get("/", (c) => {
  noQuery(c.req.query());
  const { keyId, tenantId, role } = c.var.auth;
  return c.json({ key_id: keyId, tenant: tenantId, role });
});
