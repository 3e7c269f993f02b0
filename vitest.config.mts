import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * porsager/postgres#1196: when a database connection dies, postgres.js 3.4.9's Workers socket
 * polyfill emits 'error' on a socket whose listeners it already removed, from inside a fire-and-
 * forget read loop, so the rejection cannot be handled by any caller (the request itself gets its
 * 503). Only that error is let through; any other unhandled error still fails the run.
 */
function isPostgresPolyfillTeardown(error: { message?: string; stack?: string; stacks?: { file: string }[] }): boolean {
  const fromPolyfill =
    (error.stack ?? "").includes("postgres/cf/polyfills.js") ||
    (error.stacks ?? []).some((s) => s.file.includes("postgres/cf/polyfills.js"));
  return fromPolyfill && /^(This socket has been closed\.|Stream was cancelled\.)$/.test(error.message ?? "");
}

export default defineConfig({
  test: {
    onUnhandledError: (error) => !isPostgresPolyfillTeardown(error),
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // STOPPABLE_HYPERDRIVE: a real Hyperdrive binding (as wrangler dev makes it) to the database the fault tests kill.
              hyperdrives: { HYPERDRIVE: inject("databaseUrl"), STOPPABLE_HYPERDRIVE: inject("stoppableDatabaseUrl") },
              ratelimits: {
                // The suite sends thousands of requests with one key in a minute; the limit itself is
                // tested through TIGHT_RATE_LIMITER, passed in place of the real one.
                KEY_RATE_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000, period: 60 } },
                TIGHT_RATE_LIMITER: { namespace_id: "1002", simple: { limit: 3, period: 60 } },
              },
              bindings: {
                // Small enough that the 413 test sends little; large enough for every fixture.
                MAX_BODY_BYTES: "262144",
                // Imports hand over to a new step after two batches, so tests cross steps with little data.
                IMPORT_STEP_BATCHES: "2",
                IMPORT_PARSE_STEP_BATCHES: "4",
                // A re-embedding job through the real queue crosses steps, and drops the old vectors without waiting.
                REEMBED_STEP_CHUNKS: "4",
                REEMBED_GRACE_SECONDS: "0",
                // Generous cache-tier deadlines: a loaded CI machine must not turn hits into misses.
                CACHE_TIER_TIMEOUT_MS: "2000",
                // Failure tests count provider calls; the retries are tested on their own.
                EMBEDDING_MAX_RETRIES: "0",
                // One log line per request would bury the test output; a test turns it on.
                LOG_REQUESTS: "false",
                FAKE_OPENAI_URL: inject("fakeOpenAIUrl"),
                UPSTASH_TEST_URL: inject("upstashUrl"),
                UPSTASH_VECTOR_TEST_URL: inject("upstashVectorUrl"),
                CUT_PROXY_DATABASE_URL: inject("cutProxyDatabaseUrl"),
                CUT_PROXY_CONTROL_URL: inject("cutProxyControlUrl"),
                STOPPABLE_DATABASE_URL: inject("stoppableDatabaseUrl"),
                STOPPABLE_CONTROL_URL: inject("stoppableControlUrl"),
                REAL_POSTGRES_URL: inject("realPostgresUrl"),
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["./test/global-setup.ts"],
          // Generous: no test asserts on time, and a test that times out keeps running in the
          // background, where its requests would change what the next test counts.
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
