import { Validator } from "@cfworker/json-schema";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { describe, expect, it } from "vitest";
import { askSchema } from "../../src/ask/ask-schema";
import { parseConfig } from "../../src/config";
import { ingestSchema } from "../../src/ingest/ingest-schema";
import { openApiDocument } from "../../src/openapi/document";
import { describeFields, fieldNotes } from "../../src/openapi/field-notes";

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON document, walked by key.
type Json = Record<string, any>;

const bodySchema = (document: Json, path: string, method = "post") =>
  document.paths[path][method].requestBody.content["application/json"].schema as Json;

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document by Redocly's recommended-strict rules", async () => {
    const config = await createConfig({
      extends: ["recommended-strict"],
      rules: {
        // Every error is problem+json: hold the document to it.
        "operation-4xx-problem-details-rfc7807": "error",
        // GET /health and GET /openapi.json are public and take no input: no 4xx can happen.
        "operation-4xx-response": "off",
        // The project declares no licence.
        "info-license": "off",
        "info-license-strict": "off",
      },
    });
    const problems = await lintFromString({
      source: JSON.stringify(openApiDocument(parseConfig({}))),
      absoluteRef: "/openapi.json",
      config,
    });
    expect(problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
  });

  it("shows the running configuration's limits", () => {
    const config = parseConfig({
      CHAT_MAX_TOKENS: "4096",
      CHAT_DEFAULT_MAX_TOKENS: "300",
      CHAT_ALLOWED_MODELS: "gpt-4o",
      MAX_CONTEXT_TOKENS: "3000",
      MAX_MESSAGES_PER_REQUEST: "7",
      MAX_QUERY_TOKENS: "100",
    });
    const document = openApiDocument(config) as Json;
    const ask = bodySchema(document, "/api/rag/ask").properties;
    expect(ask.max_tokens).toMatchObject({ maximum: 4096, default: 300 });
    expect(ask.max_context_tokens).toMatchObject({ maximum: 3000, default: 3000 });
    expect(ask.model.enum).toEqual(["extractive-v1", "gpt-4o"]);
    expect(ask.query.maxLength).toBe(1600);
    expect(bodySchema(document, "/api/conversations").properties.messages.maxItems).toBe(7);
    expect(document.paths["/api/conversations"].post.requestBody.description).toBe("JSON, at most 5120 KiB.");

    const defaults = openApiDocument(parseConfig({})) as Json;
    expect(bodySchema(defaults, "/api/rag/ask").properties.max_tokens.maximum).toBe(2048);
  });

  it("refuses and accepts the bodies the route's own schema does", () => {
    const config = parseConfig({ CHAT_MAX_TOKENS: "1000" });
    const documented = new Validator(bodySchema(openApiDocument(config) as Json, "/api/rag/ask"), "2020-12", false);
    const bodies = [
      { query: "What did John say?" },
      { query: "What did John say?", max_tokens: 1000, strategy: "diversity", filters: { from: "2025-03-01", author_names: ["John"] } },
      { query: "What did John say?", max_tokens: 1001 },
      { query: "What did John say?", conversationId: "c1" },
      { query: "x".repeat(256 * 16 + 1) },
      { query: "What did John say?", model: "gpt-4o" },
      { query: "What did John say?", top_k: 0 },
      { query: "What did John say?", filters: { since: "2025-03-01" } },
    ];
    for (const body of bodies) {
      expect([body, documented.validate(body).valid]).toEqual([body, askSchema(config).safeParse(body).success]);
    }
    const message = { id: "m1", author_name: "John", text: "hi", timestamp: "2025-03-01T10:00:00Z" };
    const ingest = new Validator(bodySchema(openApiDocument(config) as Json, "/api/conversations"), "2020-12", false);
    for (const body of [
      { id: "c1", messages: [message] },
      { id: "c1", metadata: { team: "atlas" }, messages: [message] },
      { id: "c1", messages: [] },
      { id: "c1", messages: [{ ...message, authorName: "John" }] },
      { id: "c1", mode: "overwrite", messages: [message] },
    ]) {
      expect([body, ingest.validate(body).valid]).toEqual([body, ingestSchema(config).safeParse(body).success]);
    }
  });

  it("describes only fields the request bodies have", () => {
    const config = parseConfig({});
    const document = openApiDocument(config) as Json;
    const notes = fieldNotes(config);
    expect(describeFields(bodySchema(document, "/api/conversations"), notes.ingestConversation!)).toEqual([]);
    expect(describeFields(bodySchema(document, "/api/rag/retrieve"), notes.retrieve!)).toEqual([]);
    expect(describeFields(bodySchema(document, "/api/rag/ask"), notes.ask!)).toEqual([]);
  });

  it("requires an API key everywhere but the two public routes, and answers a missing one with 401", () => {
    const document = openApiDocument(parseConfig({})) as Json;
    expect(document.security).toEqual([{ apiKey: [] }]);
    for (const [path, item] of Object.entries<Json>(document.paths)) {
      for (const [method, operation] of Object.entries<Json>(item)) {
        const isPublic = path === "/health" || path === "/openapi.json";
        expect([method, path, operation.security]).toEqual([method, path, isPublic ? [] : undefined]);
        if (!isPublic) expect(operation.responses["401"]).toEqual({ $ref: "#/components/responses/Unauthorized" });
      }
    }
  });

  it("describes each event of a streamed answer", () => {
    const document = openApiDocument(parseConfig({})) as Json;
    const stream = document.paths["/api/rag/ask"].post.responses["200"].content["text/event-stream"].schema;
    expect(stream).toEqual({ $ref: "#/components/schemas/AskEvent" });
    const events = document.components.schemas.AskEvent.oneOf.map((e: Json) => document.components.schemas[e.$ref.split("/").pop()]);
    expect(events.map((e: Json) => e.properties.event.const)).toEqual(["meta", "delta", "done", "error"]);
    expect(events[3].properties.data).toEqual({ $ref: "#/components/schemas/StreamProblem" });
  });
});
