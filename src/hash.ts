import { createHash } from "node:crypto";

/** Hex SHA-256 of the UTF-8 bytes of `parts` joined by a unit separator (no part can forge another's boundary). */
export function sha256Hex(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u001f"), "utf8").digest("hex");
}
