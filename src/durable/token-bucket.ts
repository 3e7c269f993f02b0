/** The levels of a request bucket and a token bucket at time `at` (ms since the epoch). */
export interface BucketState {
  requests: number;
  tokens: number;
  at: number;
}

/** A provider's limits per minute (0: no limit) and the share of them we allow ourselves. */
export interface BucketLimits {
  requestsPerMinute: number;
  tokensPerMinute: number;
  share: number;
}

export interface Cost {
  requests: number;
  tokens: number;
}

const MINUTE_MS = 60_000;

/**
 * Capacity and refill per ms of one bucket: `share` of the limit, refilled continuously at `share`
 * of the limit per minute. Against a provider that replenishes its own limit continuously (as
 * OpenAI's do), usage that fits this bucket never drains more than `share` of the provider's.
 */
const bucket = (limit: number, share: number) => (limit > 0 ? { capacity: limit * share, perMs: (limit * share) / MINUTE_MS } : undefined);

function refill(state: BucketState | undefined, limits: BucketLimits, now: number): BucketState {
  const r = bucket(limits.requestsPerMinute, limits.share);
  const t = bucket(limits.tokensPerMinute, limits.share);
  if (!state) return { requests: r?.capacity ?? 0, tokens: t?.capacity ?? 0, at: now };
  const elapsed = Math.max(0, now - state.at);
  return {
    requests: r ? Math.min(r.capacity, state.requests + elapsed * r.perMs) : 0,
    tokens: t ? Math.min(t.capacity, state.tokens + elapsed * t.perMs) : 0,
    at: Math.max(now, state.at),
  };
}

/**
 * Takes `cost` from the buckets if both hold enough; otherwise takes nothing and says how long
 * until they will. A cost larger than a bucket's capacity is charged as the whole capacity, so an
 * oversized request waits for a full bucket instead of being refused forever.
 */
export function take(
  state: BucketState | undefined,
  limits: BucketLimits,
  cost: Cost,
  now: number,
): { state: BucketState; granted: boolean; retryAfterMs: number } {
  const level = refill(state, limits, now);
  const r = bucket(limits.requestsPerMinute, limits.share);
  const t = bucket(limits.tokensPerMinute, limits.share);
  const needR = r ? Math.min(cost.requests, r.capacity) : 0;
  const needT = t ? Math.min(cost.tokens, t.capacity) : 0;
  const waitR = r && level.requests < needR ? (needR - level.requests) / r.perMs : 0;
  const waitT = t && level.tokens < needT ? (needT - level.tokens) / t.perMs : 0;
  if (waitR > 0 || waitT > 0) return { state: level, granted: false, retryAfterMs: Math.ceil(Math.max(waitR, waitT)) };
  return { state: { ...level, requests: level.requests - needR, tokens: level.tokens - needT }, granted: true, retryAfterMs: 0 };
}

/** Gives back tokens reserved but not used (an estimate above the actual usage). */
export function refund(state: BucketState | undefined, limits: BucketLimits, tokens: number, now: number): BucketState {
  const level = refill(state, limits, now);
  const t = bucket(limits.tokensPerMinute, limits.share);
  return t ? { ...level, tokens: Math.min(t.capacity, level.tokens + Math.max(0, tokens)) } : level;
}

/** Whether the buckets are full: nothing is owed, so the state can be forgotten. */
export function isFull(state: BucketState, limits: BucketLimits, now: number): boolean {
  const level = refill(state, limits, now);
  const r = bucket(limits.requestsPerMinute, limits.share);
  const t = bucket(limits.tokensPerMinute, limits.share);
  return (!r || level.requests >= r.capacity) && (!t || level.tokens >= t.capacity);
}
