// The demo conversations shipped in demo/: loaded into an empty database by `npm start`.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DEMO_DIR = join(import.meta.dirname, "../../demo");

export function demoConversations(): { id: string; body: string }[] {
  return readdirSync(DEMO_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const body = readFileSync(join(DEMO_DIR, f), "utf8");
      return { id: (JSON.parse(body) as { id: string }).id, body };
    });
}

/** POSTs each conversation to a running API; returns the number of messages ingested. */
export async function ingestAll(baseUrl: string, apiKey: string, conversations: { id: string; body: string }[]): Promise<number> {
  let messages = 0;
  for (const c of conversations) {
    const res = await fetch(`${baseUrl}/api/conversations`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: c.body,
    });
    if (!res.ok) throw new Error(`ingesting ${c.id} failed: ${res.status} ${await res.text()}`);
    const result = (await res.json()) as { messages: { total: number } };
    messages += result.messages.total;
  }
  return messages;
}
