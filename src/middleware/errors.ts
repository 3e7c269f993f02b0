import type { Context, ErrorHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { type ApiError, problemBody } from "../errors.ts";
import { logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";
import { toApiError } from "../to-api-error.ts";

/** Renders an ApiError as application/problem+json. */
export function problemResponse(c: Context, err: ApiError): Response {
  const res = c.json(problemBody(err, c.req.path), err.status as 400, err.headers);
  res.headers.set("content-type", "application/problem+json");
  return res;
}

/** The one error handler: everything thrown becomes problem+json, counted by its code (4xx and 5xx apart); 5xx are logged with the request id. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  const apiError = toApiError(err);
  counters.inc(apiError.status >= 500 ? "rag_errors_total" : "rag_client_errors_total", { kind: apiError.code });
  // Unexpected errors keep their stack for debugging; expected unavailability (503) is one line.
  if (apiError.status === 500) {
    logLine("error", { request_id: c.var.requestId, code: apiError.code, error: String(err), stack: (err as Error).stack });
  } else if (apiError.status > 500) {
    logLine("warn", { request_id: c.var.requestId, code: apiError.code, detail: apiError.detail });
  }
  return problemResponse(c, apiError);
};
