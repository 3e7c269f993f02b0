// An import's objects in R2: the uploaded file (imports/<tenant>/<id>, named in the imports row), the
// file a zip's member was read out to (stage/<tenant>/<id>), the spool of parsed batches
// (spool/<tenant>/<id>/<n>) and the parse's checkpoints (spool/<tenant>/<id>/resume-<n>).
import type { Resume } from "./format.ts";
import type { Skipped } from "./skipped.ts";

/** The R2 key of an import's n-th parsed batch. */
export const spoolKey = (tenantId: string, id: string, n: number) => `spool/${tenantId}/${id}/${n}`;

/** The R2 key of the checkpoint a parse leaves after its n-th batch. */
export const checkpointKey = (tenantId: string, id: string, n: number) => `spool/${tenantId}/${id}/resume-${n}`;

/** The R2 key of the member a zip upload's parse reads. */
export const stageKey = (tenantId: string, id: string) => `stage/${tenantId}/${id}`;

/** Where a parse stands between two steps. */
export interface Checkpoint {
  /** The R2 key of the file the parse reads: the upload, or the member read out of it. */
  source: string;
  /** The file's name for `where` (a zip member's path); undefined: the format's own default. */
  file: string | undefined;
  /** Where the parse goes on; undefined: at the file's first byte. */
  resume: Resume | undefined;
  parsed: number;
  skipped: Skipped;
  /** Conversations whose title or metadata was cut (reported once each). */
  fitted: string[];
}

export async function readCheckpoint(bucket: R2Bucket, key: string): Promise<Checkpoint | undefined> {
  const object = await bucket.get(key);
  return object ? object.json<Checkpoint>() : undefined;
}

export async function writeCheckpoint(bucket: R2Bucket, key: string, checkpoint: Checkpoint): Promise<void> {
  await bucket.put(key, JSON.stringify(checkpoint));
}

/** Deletes everything an import left in R2: its upload, staged member, spool and checkpoints. */
export async function deleteImportObjects(bucket: R2Bucket, tenantId: string, id: string, uploadKey: string): Promise<void> {
  await bucket.delete([uploadKey, stageKey(tenantId, id)]);
  const prefix = `spool/${tenantId}/${id}/`;
  for (;;) {
    // Listing again from the start after each delete: what is left is what has not been deleted yet.
    const listed = await bucket.list({ prefix, limit: 1000 });
    if (listed.objects.length === 0) return;
    await bucket.delete(listed.objects.map((o) => o.key));
    if (!listed.truncated) return;
  }
}

/** Parts of a multipart upload: R2 wants every part but the last the same size, at least 5 MiB. */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * Writes a stream of unknown length to R2: in one put when it is at most one part, else as a
 * multipart upload of equal parts (R2's put needs a known length). Returns the bytes written.
 */
export async function putStream(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>): Promise<number> {
  const reader = body.getReader();
  let part = new Uint8Array(PART_BYTES);
  let filled = 0;
  let total = 0;
  let upload: R2MultipartUpload | undefined;
  const parts: R2UploadedPart[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let at = 0; at < value.length; ) {
        const n = Math.min(value.length - at, PART_BYTES - filled);
        part.set(value.subarray(at, at + n), filled);
        filled += n;
        at += n;
        total += n;
        if (filled < PART_BYTES) continue;
        upload ??= await bucket.createMultipartUpload(key);
        parts.push(await upload.uploadPart(parts.length + 1, part));
        part = new Uint8Array(PART_BYTES);
        filled = 0;
      }
    }
    if (!upload) {
      await bucket.put(key, part.subarray(0, filled));
      return total;
    }
    if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
    await upload.complete(parts);
    return total;
  } catch (error) {
    await upload?.abort().catch(() => {});
    await reader.cancel().catch(() => {});
    throw error;
  }
}
