/** One field problem inside a problem+json body: a JSON Pointer into the request and what is wrong there. */
export interface FieldProblem {
  pointer: string;
  detail: string;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/**
 * An error that becomes an RFC 9457 problem+json response. `code` is a stable slug that
 * forms the problem `type` URI, so clients can branch on it without parsing prose.
 *
 * @example throw new ApiError(404, "not-found", "conversation 'x' does not exist")
 */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldProblem[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  get title(): string {
    return TITLES[this.status] ?? "Error";
  }
}

export const badRequest = (detail: string, errors: FieldProblem[] = []) => new ApiError(400, "invalid-request", detail, errors);
export const notFound = (detail: string) => new ApiError(404, "not-found", detail);

/** Serialises an ApiError as the problem+json body. */
export function problemBody(err: ApiError, instance: string) {
  return {
    type: `urn:convo-rag:problem:${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.detail,
    instance,
    ...(err.errors.length > 0 ? { errors: err.errors } : {}),
  };
}
