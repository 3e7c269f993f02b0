import type postgres from "postgres";
import type { Db } from "./client.ts";

/**
 * A value sent as one jsonb parameter. Batches travel this way (one statement for many rows);
 * sql.json is needed because postgres.js would otherwise serialise a string for a jsonb
 * parameter as a JSON string literal, and has no array types without fetch_types.
 */
export const json = (db: Db, value: unknown) => db.json(value as postgres.JSONValue);
