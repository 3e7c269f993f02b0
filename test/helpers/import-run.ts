import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { parseConfig } from "../../src/config";
import { type ConversationBatch, ImportError, type ImportedMessage, type Importer, type ImportOptions } from "../../src/imports/format";
import { ingestSchema } from "../../src/ingest/ingest-schema";

const ingest = ingestSchema(parseConfig({}));

/** A fixture's bytes from test/fixtures/imports/. */
export const fixture = (path: string): Uint8Array => new Uint8Array(readFileSync(join(import.meta.dirname, "../fixtures/imports", path)));

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A byte stream that hands out `bytes` in chunks of `size` (the last one shorter), each a copy. */
export function streamOf(bytes: Uint8Array, size = Math.max(bytes.length, 1)): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

export interface ImportRun {
  batches: ConversationBatch[];
  skipped: { where: string; reason: string }[];
  /** Every message of every batch, in order. */
  messages: ImportedMessage[];
}

/**
 * Runs an importer over `bytes` fed in chunks of `chunk` bytes, recording what it emits. Every
 * batch must be one the ingest API takes as it is (src/ingest/ingest-schema.ts).
 */
export async function runImport(importer: Importer, bytes: Uint8Array, options: ImportOptions = {}, chunk?: number): Promise<ImportRun> {
  const run: ImportRun = { batches: [], skipped: [], messages: [] };
  await importer.parse(streamOf(bytes, chunk), options, {
    async batch(batch) {
      expect(batch.messages.length).toBeGreaterThan(0);
      expect(batch.messages.length).toBeLessThanOrEqual(500);
      const checked = ingest.safeParse(batch);
      expect(checked.error?.issues ?? []).toEqual([]);
      run.batches.push(batch);
      run.messages.push(...batch.messages);
    },
    skipped(where, reason) {
      run.skipped.push({ where, reason });
    },
  });
  return run;
}

/** The ImportError an import fails with (the test fails if it succeeds or throws something else). */
export async function importError(
  importer: Importer,
  bytes: Uint8Array,
  options: ImportOptions = {},
  chunk?: number,
): Promise<ImportError> {
  const error = await runImport(importer, bytes, options, chunk).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImportError);
  return error as ImportError;
}

/** Messages without their ids, for comparing content. */
export const withoutIds = (messages: ImportedMessage[]) => messages.map(({ id: _, ...m }) => m);
