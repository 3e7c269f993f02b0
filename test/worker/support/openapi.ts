import { Validator } from "@cfworker/json-schema";
import { isEvent } from "./sse";

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON document, walked by key.
type Json = Record<string, any>;

/**
 * A schema with every $ref to a component inlined, and every object closed to properties it
 * does not name: the document leaves responses open to new fields, a test holds them to it.
 */
function strict(schema: Json, schemas: Record<string, Json>): Json {
  if (Array.isArray(schema)) return schema.map((s) => strict(s, schemas));
  if (typeof schema !== "object" || schema === null) return schema;
  if (typeof schema.$ref === "string") return strict(schemas[schema.$ref.replace("#/components/schemas/", "")]!, schemas);
  const out: Json = {};
  for (const [key, value] of Object.entries(schema))
    out[key] = key === "const" || key === "enum" || key === "examples" ? value : strict(value, schemas);
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** The events of a text/event-stream body, with their `id:` line when they have one. */
function events(text: string): Json[] {
  return text
    .split("\n\n")
    .filter(isEvent)
    .map((block) => {
      const field = (name: string) =>
        block
          .split("\n")
          .filter((l) => l.startsWith(`${name}: `))
          .map((l) => l.slice(name.length + 2));
      const id = field("id")[0];
      return { event: field("event")[0] ?? "message", ...(id !== undefined ? { id } : {}), data: JSON.parse(field("data").join("\n")) };
    });
}

const resolve = (document: Json, node: Json, kind: string): Json =>
  typeof node?.$ref === "string" ? document.components[kind][node.$ref.split("/").pop()!] : node;

/**
 * Checks a real response against the document: its status is documented for the operation, its
 * content type is one of the documented ones, the documented required headers are there with
 * valid values, and the body (each event, for an event stream) validates against the schema,
 * with no field the schema does not name. Returns what does not conform.
 */
export async function nonConformities(document: Json, method: string, path: string, res: Response): Promise<string[]> {
  const operation = document.paths[path]?.[method.toLowerCase()];
  if (!operation) return [`${method} ${path} is not documented`];
  const response = resolve(document, operation.responses[String(res.status)], "responses");
  if (!response) return [`status ${res.status} is not documented for ${method} ${path}`];
  const schemas = document.components.schemas as Record<string, Json>;
  const problems: string[] = [];
  for (const [name, node] of Object.entries<Json>(response.headers ?? {})) {
    const header = resolve(document, node, "headers");
    const value = res.headers.get(name);
    if (value === null) {
      if (header.required) problems.push(`header ${name} is missing`);
      continue;
    }
    const typed = header.schema.type === "integer" ? Number(value) : value;
    for (const e of new Validator(strict(header.schema, schemas), "2020-12", false).validate(typed).errors)
      problems.push(`header ${name}: ${e.error}`);
  }
  const text = await res.text();
  if (!response.content) return text === "" ? problems : [...problems, `a body where none is documented: ${text.slice(0, 200)}`];
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const media = Object.entries<Json>(response.content).find(([documented]) => documented.split(";")[0] === type)?.[1];
  if (!media) return [...problems, `content type '${type}' is not documented (${Object.keys(response.content).join(", ")})`];
  const validator = new Validator(strict(media.schema, schemas), "2020-12", false);
  const instances = type === "text/event-stream" ? events(text) : [type === "text/plain" ? text : JSON.parse(text)];
  instances.forEach((instance, i) => {
    for (const e of validator.validate(instance).errors)
      problems.push(`${instances.length > 1 ? `event ${i}: ` : ""}${e.instanceLocation}: ${e.error}`);
  });
  return problems;
}
