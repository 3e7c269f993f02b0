import type { Db } from "./client.ts";
import type { MessageRow } from "./messages.ts";

/** Which of a conversation's messages a page shows; every field optional. */
export interface MessageFilter {
  /** Exact match (names are stored in NFC). */
  authorName?: string;
  /** Inclusive bounds on the timestamp. */
  from?: Date;
  to?: Date;
}

/**
 * Where a window of messages sits in the conversation's order ("timestamp", order_index):
 * - `start`: before the first message;
 * - `after` / `before`: beside a message as it stands now (a cursor); the message itself counts
 *   as already seen, on the side the cursor came from. If it was deleted, the window continues
 *   after (or before) every message at its timestamp;
 * - `around`: a message, returned as the window's centre.
 */
export type Anchor =
  | { kind: "start" }
  | { kind: "after" | "before"; messageId: string; timestamp: Date }
  | { kind: "around"; messageId: string };

export interface WindowRequest {
  anchor: Anchor;
  /** How many messages to return before and after the anchor. */
  before: number;
  after: number;
  filter: MessageFilter;
}

export interface PageMessage {
  id: string;
  authorName: string;
  authorType: string;
  text: string;
  timestamp: Date;
}

export interface MessageWindow {
  /** In conversation order: the messages before the anchor, the `around` message, those after. */
  messages: PageMessage[];
  /** Whether messages matching the filter lie beyond the first and the last returned (or beside the anchor when none were). */
  more: { before: boolean; after: boolean };
  /** For `around`: whether the message exists in the conversation, and matches the filter. */
  target?: "found" | "missing" | "filtered";
}

type Row = MessageRow & {
  side: "before" | "after" | "target" | null;
  matches: boolean | null;
};

// order_index is never negative and below 2^31: a deleted cursor message sorts after (or before) every message at its timestamp.
const LAST = 2_147_483_647;
const FIRST = -1;

/**
 * The statement behind readMessageWindow (exported so tests can EXPLAIN it): one snapshot, so a
 * concurrent ingest that renumbers order_index cannot shift the anchor between its lookup and
 * the pages. Each side reads one row more than it returns, to tell whether more lie beyond.
 * No row at all: the tenant has no such conversation.
 */
export function messageWindowQuery(db: Db, tenantId: string, conversationId: string, request: WindowRequest) {
  const { anchor, filter } = request;
  const messageId = anchor.kind === "start" ? null : anchor.messageId;
  const fallback =
    anchor.kind === "start"
      ? db`UNION ALL SELECT '-infinity'::timestamptz, ${FIRST}::int, 1`
      : anchor.kind === "around"
        ? db``
        : db`UNION ALL SELECT ${anchor.timestamp}::timestamptz, ${anchor.kind === "after" ? LAST : FIRST}::int, 1`;
  const matching = db`
    ${filter.authorName === undefined ? db`` : db`AND m.author_name = ${filter.authorName}`}
    ${filter.from === undefined ? db`` : db`AND m."timestamp" >= ${filter.from}`}
    ${filter.to === undefined ? db`` : db`AND m."timestamp" <= ${filter.to}`}`;
  const columns = db`m.id, m.author_name, m.author_type, m.text, m."timestamp" AS ts, m.order_index`;
  const position = db`((SELECT ts FROM anchor), (SELECT oi FROM anchor))`;
  // The cursor's own message is on the side the cursor came from: before an `after` cursor, after a `before` one.
  const beforeOp = anchor.kind === "after" ? db`<=` : db`<`;
  const afterOp = anchor.kind === "before" ? db`>=` : db`>`;
  const before =
    anchor.kind === "start"
      ? db``
      : db`(SELECT 'before' AS side, ${columns}, NULL::boolean AS matches FROM messages m
          WHERE m.tenant_id = ${tenantId} AND m.conversation_id = ${conversationId} ${matching}
            AND m."timestamp" <= (SELECT ts FROM anchor) AND (m."timestamp", m.order_index) ${beforeOp} ${position}
          ORDER BY m."timestamp" DESC, m.order_index DESC LIMIT ${request.before + 1})
        UNION ALL`;
  const target =
    anchor.kind === "around"
      ? db`UNION ALL
        SELECT 'target', ${columns}, (true ${matching}) FROM messages m
        WHERE m.tenant_id = ${tenantId} AND m.conversation_id = ${conversationId} AND m.id = ${anchor.messageId}`
      : db``;
  return db<Row[]>`
    WITH anchor AS (
      SELECT ts, oi FROM (
        SELECT "timestamp" AS ts, order_index AS oi, 0 AS rank FROM messages
        WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId} AND id = ${messageId}
        ${fallback}) a
      ORDER BY rank LIMIT 1)
    SELECT w.* FROM conversations c LEFT JOIN LATERAL (
      ${before}
      (SELECT 'after' AS side, ${columns}, NULL::boolean AS matches FROM messages m
        WHERE m.tenant_id = ${tenantId} AND m.conversation_id = ${conversationId} ${matching}
          AND m."timestamp" >= (SELECT ts FROM anchor) AND (m."timestamp", m.order_index) ${afterOp} ${position}
        ORDER BY m."timestamp", m.order_index LIMIT ${request.after + 1})
      ${target}) w ON true
    WHERE c.tenant_id = ${tenantId} AND c.id = ${conversationId}`;
}

const inOrder = (a: Row, b: Row) => new Date(a.ts).getTime() - new Date(b.ts).getTime() || a.order_index - b.order_index;

const toMessage = (r: Row): PageMessage => ({
  id: r.id,
  authorName: r.author_name,
  authorType: r.author_type,
  text: r.text,
  timestamp: new Date(r.ts),
});

/** Up to `before` matching messages before the anchor and `after` after it; undefined when the tenant has no such conversation. */
export async function readMessageWindow(
  db: Db,
  tenantId: string,
  conversationId: string,
  request: WindowRequest,
): Promise<MessageWindow | undefined> {
  const rows = await messageWindowQuery(db, tenantId, conversationId, request);
  if (rows.length === 0) return undefined;
  const side = (name: Row["side"]) => rows.filter((r) => r.side === name).sort(inOrder);
  const before = side("before");
  const after = side("after");
  const [target] = side("target");
  const window: MessageWindow = {
    messages: [
      ...before.slice(Math.max(0, before.length - request.before)),
      ...(target?.matches ? [target] : []),
      ...after.slice(0, request.after),
    ].map(toMessage),
    more: { before: before.length > request.before, after: after.length > request.after },
  };
  if (request.anchor.kind === "around") window.target = !target ? "missing" : target.matches ? "found" : "filtered";
  return window;
}
