// The LoCoMo evaluation data in ../shared/data/locomo-dev, read in place (never copied), and the
// steps every evaluation shares: a fresh tenant, ingestion through the API, evidence recall.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const LOCOMO_DIR = join(import.meta.dirname, "../../../shared/data/locomo-dev");
export const CATEGORIES: Record<number, string> = { 1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop" };

export interface Qa {
  question: string;
  evidence: string[];
  category: number;
}
export interface LocomoConversation {
  id: string;
  title: string;
  messages: unknown[];
  qa: Qa[];
}

/** The conversations, or exits with a message when the folder is absent (a user's clone has none). */
export function loadLocomo(): LocomoConversation[] {
  if (!existsSync(LOCOMO_DIR)) {
    console.error(`no evaluation data at ${LOCOMO_DIR}`);
    process.exit(2);
  }
  return readdirSync(LOCOMO_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(LOCOMO_DIR, f), "utf8")) as LocomoConversation);
}

/** A new tenant with its own key (admin API), with the conversations ingested; returns request headers for it. */
export async function ingestForEval(
  base: string,
  conversations: LocomoConversation[],
  adminKey = process.env.DEV_ADMIN_KEY ?? "dev-admin-key",
): Promise<Record<string, string>> {
  const created = await fetch(`${base}/api/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ tenant: `eval-${Date.now()}` }),
  });
  if (created.status !== 201) throw new Error(`creating an eval tenant failed: ${created.status} ${await created.text()}`);
  const { key } = (await created.json()) as { key: string };
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  for (const c of conversations) {
    const res = await fetch(`${base}/api/conversations`, {
      method: "POST",
      headers,
      body: JSON.stringify({ id: c.id, title: c.title, messages: c.messages }),
    });
    if (!res.ok) throw new Error(`ingesting ${c.id} failed: ${res.status} ${await res.text()}`);
  }
  return headers;
}

/** Share of the evidence message ids found among the given chunks' message ids. */
export function evidenceRecall(evidence: string[], chunks: { message_ids: string[] }[]): number {
  const found = new Set(chunks.flatMap((c) => c.message_ids));
  return evidence.filter((e) => found.has(e)).length / evidence.length;
}
