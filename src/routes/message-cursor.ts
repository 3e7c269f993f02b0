import { isStorable } from "../http/read-json.ts";

/**
 * A position in a conversation's messages: just after (`next_cursor`) or just before
 * (`prev_cursor`) a message, named by its timestamp and id. It is resolved against the
 * conversation as it stands when it is used, so messages added between two pages are neither
 * skipped nor repeated; the timestamp places it if the message has been deleted since.
 */
export interface MessageCursor {
  direction: "after" | "before";
  timestamp: Date;
  messageId: string;
}

const FORMAT = /^([ab])\|(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(.{1,256})$/s;

/** Opaque to clients: base64url of `a|<ISO timestamp>|<message id>` (`b` for before). */
export function encodeMessageCursor(cursor: MessageCursor): string {
  const text = `${cursor.direction === "after" ? "a" : "b"}|${cursor.timestamp.toISOString()}|${cursor.messageId}`;
  const binary = String.fromCharCode(...new TextEncoder().encode(text));
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The cursor, or undefined for anything this API did not return (never an exception). */
export function decodeMessageCursor(value: string): MessageCursor | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(value) || value.length % 4 === 1) return undefined;
  let text: string;
  try {
    const binary = atob(value.replaceAll("-", "+").replaceAll("_", "/"));
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const m = FORMAT.exec(text);
  if (!m) return undefined;
  const [, direction, iso, messageId] = m;
  const timestamp = new Date(iso!);
  if (Number.isNaN(timestamp.getTime()) || timestamp.toISOString() !== iso || !isStorable(messageId!)) return undefined;
  return { direction: direction === "a" ? "after" : "before", timestamp, messageId: messageId! };
}
