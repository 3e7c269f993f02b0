// Bindings that only the tests have (set in vitest.config.mts).
declare namespace Cloudflare {
  interface Env {
    FAKE_OPENAI_URL: string;
    UPSTASH_TEST_URL: string;
    /** A local server speaking Upstash Vector's REST protocol over PGlite + pgvector (scripts/lib/upstash-vector-server.ts). */
    UPSTASH_VECTOR_TEST_URL: string;
    TIGHT_RATE_LIMITER: RateLimit;
    CUT_PROXY_DATABASE_URL: string;
    CUT_PROXY_CONTROL_URL: string;
    STOPPABLE_DATABASE_URL: string;
    STOPPABLE_CONTROL_URL: string;
    /** A Hyperdrive binding to STOPPABLE_DATABASE_URL's database, through Miniflare's Hyperdrive proxy. */
    STOPPABLE_HYPERDRIVE: Hyperdrive;
    /** A real PostgreSQL server (test/helpers/real-postgres.ts); empty when none is installed outside CI. */
    REAL_POSTGRES_URL: string;
  }
}
