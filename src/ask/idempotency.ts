import type { CachedAnswer } from "../answer-cache/answer-cache.ts";
import type { MultiLevelCache } from "../cache/multilevel.ts";
import { ApiError, badRequest } from "../errors.ts";
import { sha256Hex } from "../hash.ts";

// Asks with an `Idempotency-Key` header: a client that sends the same ask again (a retry after a
// dropped connection, an EventSource-style reconnect) gets the answer it was given, replayed, not
// a second answer, and never a second session turn. Keys are scoped to the API key that sent them.

const KEY = /^[\x21-\x7e]{1,255}$/;
/** How long a completed ask can be replayed by its key. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

export interface IdempotentAsk {
  /** Cache key of the completed answer. */
  key: string;
  /** Hash of the request body: the same key with another body is a client error. */
  fingerprint: string;
}

interface Stored {
  fingerprint: string;
  status: string;
  entry: CachedAnswer;
}

/** Asks with an Idempotency-Key still being answered in this isolate. */
const inFlight = new Set<string>();

/** Reads and checks the header; undefined when the request has none. */
export function idempotentAsk(
  header: string | undefined,
  owner: { tenantId: string; keyId: string },
  body: unknown,
): IdempotentAsk | undefined {
  if (header === undefined) return undefined;
  if (!KEY.test(header)) {
    const detail = "must be 1 to 255 visible ASCII characters";
    throw badRequest(`invalid Idempotency-Key header: ${detail}`, [{ pointer: "#/headers/idempotency-key", detail }]);
  }
  return {
    key: sha256Hex("idempotency", owner.tenantId, owner.keyId, header),
    fingerprint: sha256Hex(JSON.stringify(body)),
  };
}

/**
 * The answer an earlier request with this key received, to be replayed; 422 when that request
 * had another body, 409 while it is still being answered in this isolate.
 */
export async function replayable(cache: MultiLevelCache, ask: IdempotentAsk): Promise<Stored | undefined> {
  const hit = await cache.get(ask.key, "idempotency");
  if (hit) {
    const stored = JSON.parse(hit.value) as Stored;
    if (stored.fingerprint !== ask.fingerprint) {
      throw new ApiError(422, "idempotency-key-reused", "this Idempotency-Key was used for an ask with another body; use a new key");
    }
    return stored;
  }
  if (inFlight.has(ask.key)) {
    throw new ApiError(
      409,
      "idempotency-key-in-flight",
      "an ask with this Idempotency-Key is still being answered; retry when it ends",
      [],
      {
        "retry-after": "1",
      },
    );
  }
  return undefined;
}

/** Marks the ask in flight; the returned function records its completed answer (or only ends it). */
export function begin(cache: MultiLevelCache, ask: IdempotentAsk): (completed?: { status: string; entry: CachedAnswer }) => void {
  inFlight.add(ask.key);
  let ended = false;
  return (completed) => {
    if (ended) return;
    ended = true;
    inFlight.delete(ask.key);
    if (completed) {
      const stored: Stored = { fingerprint: ask.fingerprint, ...completed };
      cache.put(ask.key, JSON.stringify(stored), "idempotency", IDEMPOTENCY_TTL_SECONDS);
    }
  };
}
