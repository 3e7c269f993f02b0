// Running an importer in a test: the input as a stream of small chunks (so every parser meets
// values split across reads), and a sink that records what it is given.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type Zippable, zipSync } from "fflate";
import { parseConfig } from "../../src/config";
import type { ConversationBatch, ImportedMessage, Importer, ImportOptions } from "../../src/imports/format";
import { ingestSchema } from "../../src/ingest/ingest-schema";

export const FIXTURES = join(import.meta.dirname, "../fixtures/imports");

/** Ingest's body schema with the default limits: every batch an importer emits must pass it. */
const ingest = ingestSchema(parseConfig({}));

/** `bytes` as a stream of `size`-byte chunks. */
export function chunked(bytes: Uint8Array | string, size = 7): ReadableStream<Uint8Array> {
  const all = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= all.length) return controller.close();
      controller.enqueue(all.slice(at, at + size));
      at += size;
    },
  });
}

export interface ImportRun {
  batches: ConversationBatch[];
  skipped: [where: string, reason: string][];
  /** Every message of a conversation, batches joined. */
  messages(conversationId: string): ImportedMessage[];
  conversations(): string[];
}

export async function runImport(importer: Importer, input: ReadableStream<Uint8Array>, options: ImportOptions = {}): Promise<ImportRun> {
  const batches: ConversationBatch[] = [];
  const skipped: [string, string][] = [];
  await importer.parse(input, options, {
    batch: async (batch) => {
      const checked = ingest.safeParse(batch);
      if (!checked.success)
        throw new Error(`batch ${batch.id} would be refused by ingest: ${JSON.stringify(checked.error.issues.slice(0, 3))}`);
      batches.push(structuredClone(batch));
    },
    skipped: (where, reason) => skipped.push([where, reason]),
  });
  return {
    batches,
    skipped,
    messages: (id) => batches.filter((b) => b.id === id).flatMap((b) => b.messages),
    conversations: () => [...new Set(batches.map((b) => b.id))],
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { where?: string; detail?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** Files under a fixture folder, by path relative to it ("general/2024-01-15.json"). */
export function fixtureFiles(folder: string): Record<string, Uint8Array> {
  const root = join(FIXTURES, folder);
  const files: Record<string, Uint8Array> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(root, path)] = readFileSync(path);
    }
  };
  walk(root);
  return files;
}

/** A zip of `files` in the order given (zipSync keeps insertion order). */
export function zipOf(files: [name: string, bytes: Uint8Array | string][]): Uint8Array {
  const zippable: Zippable = {};
  for (const [name, bytes] of files) zippable[name] = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return zipSync(zippable);
}
