import type { Config } from "./config.ts";
import type { KeyOwner } from "./db/api-keys.ts";
import type { Sql } from "./db/client.ts";
import type { Services } from "./services.ts";

/** Hono's type parameter for the whole app: bindings from `wrangler types`, per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    /** The request's Postgres client, created on first use and closed when the request ends. */
    sql: () => Sql;
    auth: KeyOwner;
    /** The pipeline's backends for the key's tenant (set after authentication). */
    services: Services;
    /**
     * Set by observe(): a handler that streams its response claims the request's end, and calls
     * what it gets when the stream has ended or was abandoned (otherwise the request ends when
     * the handler returns).
     */
    claimEnd?: () => () => void;
    /** The chat model of an ask, for the request-duration metric's `model` label. */
    model?: string;
  };
};
