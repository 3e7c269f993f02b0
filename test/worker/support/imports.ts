import { expect } from "vitest";
import { api } from "./api";

/** GET /api/imports/:id's body. */
export interface ImportStatus {
  id: string;
  status: string;
  format: string | null;
  progress: { messages_parsed: number; messages_stored: number; conversations: string[] };
  skipped: { where: string; reason: string }[];
  skipped_count: number;
  errors: { where: string; detail: string }[];
  started_at: string | null;
  finished_at: string | null;
}

/** Uploads a file as `key`; the answer is the 202 (or the problem). */
export async function uploadImport(key: string, body: string | Uint8Array, query: string) {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  return api("POST", `/api/imports${query}`, {
    key,
    body: bytes,
    headers: { "content-type": "application/octet-stream", "content-length": String(bytes.byteLength) },
  });
}

/** Follows an import until it ends (the queue consumer runs its steps); at most 600 polls. */
export async function importFinished(key: string, id: string): Promise<ImportStatus> {
  for (let i = 0; i < 600; i++) {
    const res = await api("GET", `/api/imports/${id}`, { key });
    expect(res.status).toBe(200);
    const status = (await res.json()) as ImportStatus;
    if (["succeeded", "failed", "cancelled"].includes(status.status)) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`import ${id} did not end`);
}

/** Uploads a file and follows its import to the end. */
export async function importAs(key: string, body: string | Uint8Array, query: string): Promise<ImportStatus> {
  const res = await uploadImport(key, body, query);
  expect(res.status).toBe(202);
  const accepted = (await res.json()) as { id: string; status: string };
  expect(accepted.status).toBe("queued");
  expect(res.headers.get("location")).toBe(`/api/imports/${accepted.id}`);
  return importFinished(key, accepted.id);
}
