import { HTTPException } from "hono/http-exception";
import { ConfigError } from "./config.ts";
import { ApiError } from "./errors.ts";
import { ChatError } from "./providers/chat-model.ts";
import { EmbeddingError } from "./providers/embedder.ts";

/** Postgres errors that mean "try again later" rather than "this request is wrong". */
const TRANSIENT_SQLSTATE = new Set(["57014", "57P01", "57P03", "53300", "08000", "08003", "08006", "08001", "40001", "40P01"]);
const CONNECTION_CODES = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
]);
/**
 * Whether an error came from a database query: postgres.js gives every error a query rejects with
 * (the server's, its own, or the runtime's socket error it was handed) the query's text as a
 * non-enumerable own `query`. The runtime's socket errors carry nothing else to tell them by, and
 * their words differ between runtimes ("connection attempt failed", "Network connection lost").
 */
const fromQuery = (err: unknown): boolean => err instanceof Error && Object.hasOwn(err, "query");

/** Maps anything thrown to an ApiError; unknown errors become a 500 that reveals nothing internal. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) return new ApiError(err.status, "http-error", err.message || "request failed");
  if (err instanceof ConfigError) return new ApiError(500, "misconfigured", err.message);
  if (err instanceof EmbeddingError)
    return new ApiError(503, "embedding-unavailable", "the embedding provider failed; nothing was stored", [], { "retry-after": "5" });
  if (err instanceof ChatError)
    return new ApiError(502, "generation-failed", "the chat provider failed while answering; nothing was stored");
  const code = (err as { code?: unknown } | null)?.code;
  // A query that failed without a code failed before the server answered: the connection did.
  const connectionLost = fromQuery(err) && code === undefined;
  if (connectionLost || (typeof code === "string" && (TRANSIENT_SQLSTATE.has(code) || CONNECTION_CODES.has(code)))) {
    return new ApiError(503, "database-unavailable", "the database is unavailable or timed out; nothing was stored", [], {
      "retry-after": "5",
    });
  }
  return new ApiError(500, "internal", "unexpected error; the request id identifies it in the logs");
}
