import { env, SELF } from "cloudflare:test";
import postgres from "postgres";
import { expect } from "vitest";

export const DEV_KEY = "dev-local-key";
export const ADMIN_KEY = "dev-admin-key";

/** Calls the Worker through its real fetch handler. A non-string body is sent as JSON. */
export function api(method: string, path: string, options: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? DEV_KEY : options.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    if (typeof options.body === "string" || options.body instanceof Uint8Array || options.body instanceof ReadableStream)
      body = options.body as BodyInit;
    else body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return SELF.fetch(`http://api.test${path}`, { method, headers, body });
}

export const uid = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** A fresh tenant with its own user key, created through the admin API. */
export async function newTenantKey(prefix = "t"): Promise<{ tenant: string; key: string; id: string }> {
  const tenant = uid(prefix);
  const res = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant } });
  if (res.status !== 201) throw new Error(`creating a key failed: ${res.status} ${await res.text()}`);
  const created = (await res.json()) as { key: string; id: string };
  return { tenant, key: created.key, id: created.id };
}

export interface TestMessage {
  id: string;
  author_name: string;
  author_type?: string;
  text: string;
  timestamp: string;
}

const SPEAKERS = ["John", "Priya", "Marco"];
const TOPICS = [
  "the launch timeline moved because load tests failed on Friday",
  "billing migration needs a month of invoice mirroring before the switch",
  "we agreed to freeze features on March 28",
  "the onboarding flow is nearly finished and copy review is with marketing",
  "hiring for the data engineer role reached the final round",
  "the export job buffers the whole file in memory before upload",
];

/** A conversation of `n` messages, a minute apart, with varied content. */
export function conversation(
  id: string,
  n: number,
  start = Date.UTC(2025, 2, 3, 10),
): { id: string; title: string; messages: TestMessage[] } {
  return {
    id,
    title: `Test conversation ${id}`,
    messages: Array.from({ length: n }, (_, i) => ({
      id: `m${i + 1}`,
      author_name: SPEAKERS[i % SPEAKERS.length]!,
      text: `Message ${i + 1}: ${TOPICS[i % TOPICS.length]}.`,
      timestamp: new Date(start + i * 60_000).toISOString(),
    })),
  };
}

/** A direct Postgres client on the same database the Worker uses, for asserting what is stored. */
export function directSql() {
  return postgres(env.HYPERDRIVE.connectionString, { max: 1, onnotice: () => {} });
}

export async function problem(res: Response) {
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return (await res.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    instance: string;
    errors?: { pointer: string; detail: string }[];
  };
}
