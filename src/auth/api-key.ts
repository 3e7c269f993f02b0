import { sha256Hex } from "../hash.ts";

/** user: the tenant's data; admin: also the tenant's keys and caches; operator: every tenant (created only by npm run create-key). */
export type Role = "user" | "admin" | "operator";

/** Digest stored for a key: keys are 256-bit random secrets, so SHA-256 suffices (no salt, constant-time lookup). */
export const hashApiKey = (key: string): string => sha256Hex("api-key", key);

/** A new random key, "crag_" + 43 base64url characters (256 bits). */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `crag_${btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "")}`;
}

/** What can be shown of a key after creation: enough to recognise it, too little to use it. */
export const keyPrefix = (key: string): string => key.slice(0, 9);
