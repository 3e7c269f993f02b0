import type { z } from "zod";
import type { ZodObjectInput, ZodOpenApiOperationObject, ZodOpenApiResponseObject } from "zod-openapi";
import { requestIdParameter } from "./headers.ts";
import { problems } from "./problems.ts";

/** Who may call an operation: anyone, any API key, an admin or operator key, an operator key. */
export type Access = "public" | "key" | "admin" | "operator";

type Status = keyof typeof problems;

interface OperationSpec {
  id: string;
  tag: string;
  summary: string;
  description?: string;
  access: Access;
  /** A JSON body and the largest one accepted, in bytes. */
  body?: { schema: z.ZodType; maxBytes: number };
  query?: ZodObjectInput;
  /** Request headers besides `x-request-id`. */
  headers?: z.ZodType[];
  path?: ZodObjectInput;
  /** Problem statuses besides the ones access and body imply. */
  errors?: Status[];
  responses: Record<number, ZodOpenApiResponseObject>;
}

const ROLE_NOTE: Record<Access, string> = {
  public: "No authentication.",
  key: "Any API key; everything is scoped to the key's tenant.",
  admin: "An `admin` key (its own tenant) or an `operator` key (any tenant).",
  operator: "An `operator` key.",
};

const kib = (bytes: number) => (bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`);

/**
 * An operation with what every route of this API shares: the `x-request-id` parameter, the
 * security requirement, and the problem responses its access, body and query string imply.
 */
export function operation(spec: OperationSpec): ZodOpenApiOperationObject {
  const errors: Status[] = [
    ...(spec.errors ?? []),
    ...(spec.access === "public" ? [] : ([401, 429, 503] as const)),
    ...(spec.access === "admin" || spec.access === "operator" ? ([403] as const) : []),
    ...(spec.body ? ([400, 413, 415] as const) : []),
    500,
  ];
  const responses: Record<string, ZodOpenApiResponseObject> = { ...spec.responses };
  for (const status of new Set(errors.sort())) responses[status] = problems[status];
  return {
    operationId: spec.id,
    tags: [spec.tag],
    summary: spec.summary,
    description: [spec.description, `**Access:** ${ROLE_NOTE[spec.access]}`].filter(Boolean).join("\n\n"),
    ...(spec.access === "public" ? { security: [] } : {}),
    parameters: [requestIdParameter, ...(spec.headers ?? [])],
    ...(spec.query || spec.path
      ? { requestParams: { ...(spec.query ? { query: spec.query } : {}), ...(spec.path ? { path: spec.path } : {}) } }
      : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            description: `JSON, at most ${kib(spec.body.maxBytes)}.`,
            content: { "application/json": { schema: spec.body.schema } },
          },
        }
      : {}),
    responses,
  };
}
