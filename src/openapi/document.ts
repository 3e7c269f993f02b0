import { z } from "zod";
import { createDocument, type ZodOpenApiOverrideContext } from "zod-openapi";
import pkg from "../../package.json" with { type: "json" };
import { askSchema } from "../ask/ask-schema.ts";
import { type Config, perConfig } from "../config.ts";
import { timestamp } from "../text/timestamp.ts";
import { describeFields, fieldNotes } from "./field-notes.ts";
import { paths } from "./paths.ts";

const DESCRIPTION = `Conversation RAG: ingest conversation archives, retrieve ranked context, answer with citations.

Every route except \`GET /health\` and \`GET /openapi.json\` needs \`Authorization: Bearer <api key>\`. A key belongs to one tenant and every read and write is scoped to it: another tenant's conversation is a \`404\`, exactly like an unknown id. Admin routes need an \`admin\` key (its own tenant) or an \`operator\` key (any tenant).

Errors are \`application/problem+json\` (RFC 9457) with a stable \`type\` (\`urn:convo-rag:problem:<code>\`). Request bodies and query strings are strict: an unknown field is a \`400\` pointing at it. Every response carries \`x-request-id\` and \`Server-Timing\`; responses may gain fields, so ignore the ones you do not know.

Limits shown here (\`max_tokens\`, \`max_context_tokens\`, messages per request, …) are this deployment's configuration. docs/API.md is the guide.`;

type Document = ReturnType<typeof createDocument>;

/**
 * The OpenAPI 3.1 document of the API, built once per Config from the zod schemas the routes
 * validate with (so the configured limits are the ones shown) and the response schemas of
 * src/openapi. Needs no bindings.
 *
 * @example openApiDocument(parseConfig({})).paths?.["/api/rag/ask"]
 */
export const openApiDocument = perConfig((config: Config): Document => {
  const document = createDocument(
    {
      openapi: "3.1.0",
      info: { title: "convo-rag API", version: pkg.version, description: DESCRIPTION },
      servers: [{ url: "/", description: "The origin this document is served from" }],
      security: [{ apiKey: [] }],
      tags: [
        { name: "Conversations", description: "Ingest, list, read and delete conversations" },
        { name: "Retrieval and answers", description: "Ranked context and cited answers over the tenant's conversations" },
        { name: "Admin", description: "API keys and the caches (admin and operator keys)" },
        { name: "Operations", description: "Health, metrics and this document" },
      ],
      paths: paths(config),
      components: {
        securitySchemes: {
          apiKey: {
            type: "http",
            scheme: "bearer",
            description: "An API key (`npm run create-key`, or `POST /api/admin/keys`) as `Authorization: Bearer <api key>`.",
          },
        },
      },
    },
    { allowEmptySchema: { custom: true }, override: (ctx) => refine(ctx, config) },
  );
  const notes = fieldNotes(config);
  for (const item of Object.values(document.paths ?? {})) {
    for (const op of [item.get, item.post, item.delete]) {
      const body = op?.requestBody && "content" in op.requestBody ? op.requestBody.content["application/json"] : undefined;
      const schema = body && "schema" in body ? body.schema : undefined;
      if (op?.operationId && schema && notes[op.operationId]) describeFields(schema as object, notes[op.operationId]!);
    }
  }
  return document;
});

/** The document as served: serialised once per Config. */
export const openApiJson = perConfig((config: Config) => JSON.stringify(openApiDocument(config)));

/**
 * What zod's JSON Schema leaves out or overstates: the input side of a pipe keeps the later
 * stage's limits (a query's maximum length); an ISO 8601 field and the configured models are
 * named; a custom schema (metadata) is an object; responses stay open to new fields.
 */
function refine({ jsonSchema, zodSchema, io }: ZodOpenApiOverrideContext, config: Config) {
  const def = zodSchema._zod.def;
  if (io === "input" && def.type === "pipe" && def.in._zod.def.type !== "transform") {
    const out = z.toJSONSchema(def.out as z.ZodType, { io: "input", unrepresentable: "any" });
    const into = jsonSchema as Record<string, unknown>;
    if (out.type === jsonSchema.type)
      for (const key of ["minLength", "maxLength", "pattern", "minimum", "maximum"]) if (key in out) into[key] ??= out[key];
  }
  if (zodSchema === timestamp) {
    jsonSchema.description ??= "ISO 8601 date or date-time; without an offset it is UTC";
    jsonSchema.examples = ["2025-03-01T10:00:00Z"];
  }
  if (def.type === "custom" && io === "input") jsonSchema.type = "object";
  if (zodSchema === askSchema(config).shape.model._zod.def.innerType) jsonSchema.enum = config.chat.allowedModels;
  if (io === "output" && jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
}
