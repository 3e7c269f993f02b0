import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { createApp } from "../../../src/app";
import { DEV_KEY } from "./api";

export interface SseEvent {
  event: string;
  data: string;
}

/** Whether an event-stream block dispatches an event: one of only comments (": keep-alive") does not. */
export const isEvent = (block: string) => block.split("\n").some((l) => l.startsWith("data:"));

/** Parses a complete text/event-stream body into its events. */
export function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter(isEvent)
    .map((block) => {
      const lines = block.split("\n");
      return {
        event: lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "message",
        data: lines
          .filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6))
          .join("\n"),
      };
    });
}

/** Reads SSE events one at a time from a streaming response, so a test can stop part-way. */
export function sseReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(): Promise<SseEvent | undefined> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 2);
          if (isEvent(block)) return parseSse(block)[0];
          continue;
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += value;
      }
    },
    cancel: () => reader.cancel(),
  };
}

const app = createApp();
// One env object per set of variables, as a deployment has one per isolate (config and the
// once-per-isolate schema check are kept per env object).
const envs = new Map<string, typeof env>();
const envWith = (vars: Record<string, string>) => {
  const key = JSON.stringify(Object.entries(vars).sort());
  let e = envs.get(key);
  if (!e) envs.set(key, (e = { ...env, ...vars } as typeof env));
  return e;
};

/**
 * Calls the app inside workerd with the real bindings plus extra variables (a chat provider, a
 * timeout), the way a deployment configured with them would run. Returns the response and a
 * function that waits for the request's background work.
 */
export async function callWith(
  vars: Record<string, string>,
  method: string,
  path: string,
  body?: unknown,
  key = DEV_KEY,
  bindings: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://api.test${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    Object.keys(bindings).length ? ({ ...envWith(vars), ...bindings } as typeof env) : envWith(vars),
    ctx,
  );
  return { res, settled: () => waitOnExecutionContext(ctx) };
}
