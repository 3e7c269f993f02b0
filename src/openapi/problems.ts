import { z } from "zod";
import type { ZodOpenApiResponseObject } from "zod-openapi";
import { commonHeaders, header } from "./headers.ts";

// Every error is an RFC 9457 problem+json body (src/errors.ts). One response component per
// status, whose `type` lists the problem types that status carries (docs/API.md, Errors).

const fieldProblem = z
  .object({
    pointer: z.string().meta({ description: "JSON Pointer into the request (body or query string)", example: "#/messages/2/timestamp" }),
    detail: z.string().meta({ description: "What is wrong there" }),
  })
  .meta({ id: "FieldProblem" });

/** A problem+json body whose `type` is one of `codes` (urn:convo-rag:problem:<code>). */
export function problemSchema(id: string, status: number | number[], codes: string[]) {
  const statuses = [status].flat();
  return z
    .object({
      type: z.enum(codes.map((code) => `urn:convo-rag:problem:${code}`) as [string, ...string[]]).meta({
        description: "Stable problem type: branch on it, not on the prose",
      }),
      title: z.string().meta({ description: "The status's reason phrase" }),
      status: (statuses.length === 1 ? z.literal(statuses[0]!) : z.union(statuses.map((s) => z.literal(s)))).meta({
        description: "The HTTP status",
      }),
      detail: z.string().meta({ description: "What went wrong, for a person" }),
      instance: z.string().meta({ description: "The request path", example: "/api/conversations" }),
      ...(statuses.includes(400)
        ? { errors: z.array(fieldProblem).optional().meta({ description: "One entry per invalid field, at most 20" }) }
        : {}),
    })
    .meta({ id, description: `RFC 9457 problem details (\`application/problem+json\`), status ${statuses.join(" or ")}` });
}

const problemResponse = (
  id: string,
  status: number,
  codes: string[],
  description: string,
  headers: Record<string, z.ZodType> = {},
): ZodOpenApiResponseObject => ({
  id,
  description,
  headers: z.object({ ...commonHeaders, ...headers }),
  content: { "application/problem+json": { schema: problemSchema(`Problem${status}`, status, codes) } },
});

/** The error responses, registered once and referenced by status from each operation. */
export const problems = {
  400: problemResponse(
    "BadRequest",
    400,
    ["invalid-request", "body-incomplete"],
    "`invalid-request`: malformed JSON, invalid UTF-8, a missing, unknown or invalid field (each listed in `errors` with a JSON Pointer), an unparsable timestamp, duplicate message ids, a NUL character or lone surrogate in a string, nesting deeper than 32, or a bad or unknown query parameter. `body-incomplete`: the request body broke off before its end (shorter than its `Content-Length`, the connection dropped); nothing was stored.",
  ),
  401: problemResponse(
    "Unauthorized",
    401,
    ["unauthorized"],
    "`unauthorized`: the `Authorization: Bearer <api key>` header is missing or malformed, or the key is unknown or revoked.",
    header.wwwAuthenticate,
  ),
  403: problemResponse(
    "Forbidden",
    403,
    ["forbidden", "forbidden-tenant"],
    "`forbidden`: a user key on an admin route, or an admin key on an operator-only one. `forbidden-tenant`: an admin key naming another tenant (the same answer for every other tenant id, existing or not).",
  ),
  404: problemResponse(
    "NotFound",
    404,
    ["not-found"],
    "`not-found`: no such conversation or key for this tenant (another tenant's is indistinguishable from an unknown id), or no such route.",
  ),
  409: problemResponse(
    "Conflict",
    409,
    ["idempotency-key-in-flight", "reembed-running", "model-in-use", "nothing-to-reembed", "import-finished"],
    "`idempotency-key-in-flight`: an ask with this `Idempotency-Key` is still being answered; retry when it ends. `reembed-running`, `model-in-use`, `nothing-to-reembed` (re-embedding): the tenant has an unfinished job, already searches with the configured model, or has no chunks yet. `import-finished`: the import to cancel has already ended.",
    header.retryAfter,
  ),
  411: problemResponse(
    "LengthRequired",
    411,
    ["length-required"],
    "`length-required` (imports): the file was sent without a `Content-Length`.",
  ),
  413: problemResponse(
    "ContentTooLarge",
    413,
    ["body-too-large", "ingest-too-large"],
    "`body-too-large`: the body exceeds the route's limit (checked while reading, not only from Content-Length), or the file exceeds `IMPORT_MAX_BYTES`. `ingest-too-large` (ingest): the conversation asks for more work than `INGEST_MAX_WORK`; import it through `POST /api/imports`.",
  ),
  415: problemResponse(
    "UnsupportedMediaType",
    415,
    ["unsupported-media-type"],
    "`unsupported-media-type`: the body is not `application/json`.",
  ),
  422: problemResponse(
    "UnprocessableContent",
    422,
    ["idempotency-key-reused"],
    "`idempotency-key-reused`: this `Idempotency-Key` was used for an ask with another body; use a new key.",
  ),
  429: problemResponse(
    "TooManyRequests",
    429,
    ["rate-limited", "token-budget-exceeded", "rate-budget-exceeded"],
    "`rate-limited`: the key made more requests than its limit. `token-budget-exceeded` (ask): the tenant spent its daily chat tokens, until 00:00 UTC. `rate-budget-exceeded` (ask, with `CHAT_RATE_POLICY=reject`): the chat provider's rate budget is spent. `Retry-After` says when to come back.",
    header.retryAfter,
  ),
  500: problemResponse(
    "InternalError",
    500,
    ["internal", "misconfigured"],
    "`internal`: an unexpected error (the request id finds it in the logs). `misconfigured`: the Worker's variables are invalid.",
  ),
  502: problemResponse(
    "BadGateway",
    502,
    ["generation-failed"],
    "`generation-failed`: the chat provider failed, or the answer ended before it was complete; nothing was stored.",
  ),
  503: problemResponse(
    "ServiceUnavailable",
    503,
    ["database-unavailable", "embedding-unavailable", "retrieval-unavailable", "answer-unavailable", "migrations-pending"],
    "`database-unavailable`, `embedding-unavailable`, `retrieval-unavailable` (every retrieval strategy failed), `answer-unavailable` (a shared answer stopped arriving), with `Retry-After`; nothing was stored. `migrations-pending` needs an operator (`npm run migrate`).",
    header.optionalRetryAfter,
  ),
} satisfies Record<number, ZodOpenApiResponseObject>;

/** The problem an SSE stream ends with after a failure mid-answer (`event: error`). */
export const streamProblem = problemSchema("StreamProblem", [502, 503], ["generation-failed", "answer-unavailable"]);
