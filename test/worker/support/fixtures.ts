import { api, newTenantKey, type TestMessage } from "./api";

/** A small product-team conversation over two days, written for retrieval tests. */
export function launchConversation(id: string): { id: string; title: string; messages: TestMessage[] } {
  const lines: [string, string, string, string?][] = [
    ["Priya", "2025-05-12T09:00:00Z", "Good morning. Today: the release checklist and the database migration."],
    ["John", "2025-05-12T09:01:00Z", "The release checklist is done except for the changelog."],
    ["Marco", "2025-05-12T09:02:00Z", "The database migration to Postgres 17 needs a maintenance window of two hours."],
    ["Priya", "2025-05-12T09:03:00Z", "Let's schedule the maintenance window for Saturday night."],
    ["John", "2025-05-12T09:04:00Z", "I will announce the maintenance window to customers on Thursday."],
    ["Helpdesk", "2025-05-12T09:05:00Z", "Reminder: the support rota for the weekend is not filled yet.", "bot"],
    ["Marco", "2025-05-12T09:06:00Z", "I can take the Saturday support shift since I'm up for the migration anyway."],
    ["Priya", "2025-05-13T14:00:00Z", "Update: the staging deploy was rolled back because of a memory leak in the image resizer."],
    ["Marco", "2025-05-13T14:01:00Z", "The leak comes from an unbounded cache of decoded thumbnails. I'm adding an LRU limit."],
    ["John", "2025-05-13T14:02:00Z", "Does the rollback delay the launch date of June 2?"],
    ["Priya", "2025-05-13T14:03:00Z", "No, the launch stays on June 2 if the fix ships by Friday."],
    ["Marco", "2025-05-13T14:04:00Z", "The fix with the LRU limit is in review now."],
  ];
  return {
    id,
    title: "Release planning",
    messages: lines.map(([author_name, timestamp, text, author_type], i) => ({
      id: `m${i + 1}`,
      author_name,
      author_type: author_type ?? "human",
      text,
      timestamp,
    })),
  };
}

/** The release conversation plus a message that tries to take over the model (prompt injection), ingested for a tenant. */
export async function ingestWithInjection(key: string, id: string, injection: string): Promise<void> {
  const conv = launchConversation(id);
  conv.messages.push({ id: "m13", author_name: "Mallory", author_type: "human", text: injection, timestamp: "2025-05-13T14:05:00Z" });
  const res = await api("POST", "/api/conversations", { key, body: conv });
  if (res.status !== 201) throw new Error(`ingesting ${id} failed: ${res.status} ${await res.text()}`);
}

/** A fresh tenant with the release conversation ingested under `id`. */
export async function tenantWithLaunch(prefix: string, id: string): Promise<{ tenant: string; key: string }> {
  const tenant = await newTenantKey(prefix);
  const res = await api("POST", "/api/conversations", { key: tenant.key, body: launchConversation(id) });
  if (res.status !== 201) throw new Error(`ingesting ${id} failed: ${res.status} ${await res.text()}`);
  return tenant;
}
