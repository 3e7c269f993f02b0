import type { Breaker } from "./chat-model.ts";

/**
 * A circuit breaker for a remote provider, per isolate: after `failures` failures in a row it
 * opens and callers use their fallback without calling the provider; after `cooldownMs` one call
 * goes through as a probe (the others still fall back) and its outcome closes or re-opens it. A
 * provider that answers 429 with Retry-After opens it for that long at once: it asked us to wait.
 */
export class CircuitBreaker implements Breaker {
  private consecutive = 0;
  private openUntil = 0;
  private probing = false;

  constructor(private readonly options: { failures: number; cooldownMs: number }) {}

  /** closed: call the provider; probe: call it as the one test; open: use the fallback. */
  allow(now = Date.now()): "closed" | "probe" | "open" {
    if (this.options.failures <= 0 || this.openUntil === 0) return "closed";
    if (now < this.openUntil || this.probing) return "open";
    this.probing = true;
    return "probe";
  }

  success(): void {
    this.consecutive = 0;
    this.openUntil = 0;
    this.probing = false;
  }

  failure(retryAfterMs?: number, now = Date.now()): void {
    this.consecutive++;
    const wasProbe = this.probing;
    this.probing = false;
    if (retryAfterMs !== undefined && retryAfterMs > 0) this.openUntil = Math.max(this.openUntil, now + retryAfterMs);
    else if (wasProbe || (this.options.failures > 0 && this.consecutive >= this.options.failures))
      this.openUntil = now + this.options.cooldownMs;
  }

  get state(): "closed" | "open" | "half-open" {
    if (this.openUntil === 0) return "closed";
    return Date.now() < this.openUntil ? "open" : "half-open";
  }
}

const breakers = new Map<string, CircuitBreaker>();

/** The isolate's breaker for one provider endpoint. */
export function breakerFor(endpoint: string, options: { failures: number; cooldownMs: number }): CircuitBreaker {
  let breaker = breakers.get(endpoint);
  if (!breaker) breakers.set(endpoint, (breaker = new CircuitBreaker(options)));
  return breaker;
}
