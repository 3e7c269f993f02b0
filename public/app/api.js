// @ts-check
// The API client: the key from this tab's session storage, problem+json errors as ApiError.

const KEY = "convo-rag.api-key";

export const credentials = {
  /** @returns {string | null} */
  get() {
    return sessionStorage.getItem(KEY);
  },
  /** @param {string} key */
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/**
 * @typedef {{ type?: string, title?: string, status?: number, detail?: string,
 *   errors?: { pointer?: string, detail?: string }[] }} Problem
 */

/** A response that is not 2xx, with its problem+json body when it had one. */
export class ApiError extends Error {
  /** @param {number} status @param {Problem} problem @param {number | undefined} retryAfter seconds */
  constructor(status, problem, retryAfter) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

/**
 * Seconds in words: "about 40 seconds", "about 2 minutes", "about 3 hours".
 * @param {number} seconds
 */
export function inWords(seconds) {
  if (seconds < 1) return "a moment";
  if (seconds < 90) return `about ${Math.round(seconds)} second${Math.round(seconds) === 1 ? "" : "s"}`;
  if (seconds < 90 * 60) return `about ${Math.round(seconds / 60)} minutes`;
  if (seconds < 36 * 3600) return `about ${Math.round(seconds / 3600)} hours`;
  return `about ${Math.round(seconds / 86400)} days`;
}

/** @param {string | null} header Retry-After: seconds or an HTTP date */
function retryAfterSeconds(header) {
  if (!header) return undefined;
  const n = Number(header);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/**
 * What to tell a person about a failed call.
 * @param {unknown} err
 */
export function explain(err) {
  if (err instanceof ApiError) {
    const wait = err.retryAfter === undefined ? "" : ` Try again in ${inWords(err.retryAfter)}.`;
    if (err.status === 401) return "The API key was not accepted. Check it and sign in again.";
    if (err.status === 429) return `${err.problem.title ?? "Too many requests"}: ${err.problem.detail ?? "a limit was reached"}.${wait}`;
    const where = (err.problem.errors ?? []).map((e) => `${e.pointer ?? ""} ${e.detail ?? ""}`.trim()).join("; ");
    return `${err.message}${where && !err.message.includes(where) ? ` (${where})` : ""}.${wait}`.replace(/\.\./g, ".");
  }
  if (err instanceof DOMException && err.name === "AbortError") return "Stopped.";
  return `The server could not be reached (${err instanceof Error ? err.message : String(err)}).`;
}

/**
 * Calls the API with the signed-in key. Resolves with the response when it is 2xx.
 * @param {string} path
 * @param {{ method?: string, json?: unknown, body?: BodyInit, headers?: Record<string, string>,
 *   signal?: AbortSignal, key?: string }} [options]
 * @returns {Promise<Response>}
 */
export async function call(path, options = {}) {
  const key = options.key ?? credentials.get();
  /** @type {Record<string, string>} */
  const headers = { ...(options.headers ?? {}) };
  if (key) headers.authorization = `Bearer ${key}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const res = await fetch(path, { method: options.method ?? "GET", headers, body, signal: options.signal });
  if (res.ok) return res;
  /** @type {Problem} */
  let problem = { status: res.status };
  try {
    problem = await res.json();
  } catch {
    // Not problem+json (a proxy's page, say): the status says enough.
  }
  throw new ApiError(res.status, problem, retryAfterSeconds(res.headers.get("retry-after")));
}

/**
 * GET a JSON body.
 * @template T
 * @param {string} path
 * @param {{ signal?: AbortSignal, key?: string }} [options]
 * @returns {Promise<T>}
 */
export async function getJson(path, options = {}) {
  return (await call(path, options)).json();
}
