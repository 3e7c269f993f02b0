import type { Config } from "../config.ts";

// Descriptions of the request bodies' fields, added to the generated schemas by property name
// (the zod schemas in src/ask, src/retrieve and src/ingest carry the rules, not the prose).

type Notes = Record<string, string>;

const scope = (config: Config): Notes => ({
  query: `Non-empty, at most ${config.retrieval.maxQueryTokens} cl100k tokens`,
  conversation_id: "Search this conversation (joined with `filters.conversation_ids`: a chunk in any of them)",
  filters: "The scope searched, always inside the caller's tenant; unknown keys are an error",
  "filters.conversation_ids": "Chunks in any of these conversations",
  "filters.author_names": "Chunks with any of these speakers",
  "filters.author_types": "Chunks with any of these author types",
  "filters.from": "Chunks overlapping the range from this time (not after `to`)",
  "filters.to": "Chunks overlapping the range up to this time",
  strategies: `Retrieval strategies, each at most once (default: ${config.retrieval.defaultStrategies.join(", ")})`,
});

/** Notes per operation id, for the configured defaults. */
export function fieldNotes(config: Config): Record<string, Notes> {
  return {
    ingestConversation: {
      id: "1–256 characters; not `.` or `..`; no `/` or `\\`, control or invisible formatting characters: it comes back unchanged through a URL path segment",
      title: "Omitted keeps the stored title",
      metadata: "A JSON object of at most 64 KiB, stored exactly as sent; omitted keeps the stored metadata",
      mode: "`merge`: messages not in the request are kept; `replace`: they are deleted",
      messages:
        "Matched by id: an edited message is updated, a new one inserted, an identical one untouched; ids unique within the request",
      "messages.id": "No control or invisible formatting characters",
      "messages.author_name": "Stored in Unicode NFC; no control characters, bidi controls or invisible spacing",
      "messages.author_type": "A lower-case word: human, ai, bot, system, …",
    },
    retrieve: {
      ...scope(config),
      top_k: "Hits returned",
      token_budget:
        "In cl100k tokens: with `focus`, as many hits as fit when focused to their key sentences (`excerpt: true`); without, whole chunks in rank order while they fit",
      rrf_k: `RRF constant (default ${config.retrieval.rrfK})`,
      ef_search: `HNSW ef_search of the semantic strategy (default ${config.retrieval.efSearch})`,
      expand_neighbors: "With a budget, spend what the hits leave on the chunks just before and after them",
      focus: "Focus hits to their key sentences to fit `token_budget` (default true)",
    },
    ask: {
      ...scope(config),
      session_id: "Keeps the question/answer history so follow-ups work; created on first use",
      top_k: "Chunks retrieved, from which the context is chosen",
      strategy: "Context selection: by relevance, diversity (MMR) or both",
      max_context_tokens: "Context budget: sources plus session history, in the model's tokens",
      cache:
        "`false` skips the answer cache (`BYPASS`); a session's questions after its first, and asks with a high temperature, are not cached either",
      stream: "Server-Sent Events (default), or one JSON body",
      model: "The configured model or one of the allowed ones",
      temperature: "The extractive answerer ignores it",
      max_tokens: "Longest answer, in tokens",
    },
  };
}

interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
}

/**
 * Sets `description` on the fields `notes` names ("a.b" is a nested field, through arrays);
 * returns the names the schema does not have (a test keeps that list empty).
 */
export function describeFields(schema: Schema, notes: Notes): string[] {
  const missing: string[] = [];
  for (const [path, note] of Object.entries(notes)) {
    let at: Schema | undefined = schema;
    for (const name of path.split(".")) at = (at?.items ?? at)?.properties?.[name];
    if (at) at.description ??= note;
    else missing.push(path);
  }
  return missing;
}
