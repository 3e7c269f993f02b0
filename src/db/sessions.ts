import type { Db } from "./client.ts";
import { json } from "./json.ts";

export interface StoredTurn {
  id: number;
  question: string;
  standaloneQuestion: string;
  answer: string;
}

export interface StoredSession {
  summary: string | undefined;
  /** Id of the last turn the summary covers (0: none). */
  summaryThrough: number;
  /** The most recent turns, oldest first. */
  turns: StoredTurn[];
}

export interface TurnSource {
  n: number;
  conversation_id: string;
  message_ids: string[];
}

/** A session's summary and its last `limit` turns; undefined when the tenant has no such session. */
export async function loadSession(db: Db, tenantId: string, sessionId: string, limit: number): Promise<StoredSession | undefined> {
  const rows = await db<
    {
      summary: string | null;
      summary_through: string;
      id: string | null;
      question: string | null;
      standalone_question: string | null;
      answer: string | null;
    }[]
  >`
    SELECT s.summary, s.summary_through, t.id, t.question, t.standalone_question, t.answer
    FROM chat_sessions s
    LEFT JOIN LATERAL (
      SELECT id, question, standalone_question, answer FROM chat_turns
      WHERE tenant_id = s.tenant_id AND session_id = s.id ORDER BY id DESC LIMIT ${limit}
    ) t ON true
    WHERE s.tenant_id = ${tenantId} AND s.id = ${sessionId}`;
  if (rows.length === 0) return undefined;
  const turns = rows
    .filter((r) => r.id !== null)
    .map((r) => ({ id: Number(r.id), question: r.question!, standaloneQuestion: r.standalone_question!, answer: r.answer! }))
    .sort((a, b) => a.id - b.id);
  return { summary: rows[0]!.summary ?? undefined, summaryThrough: Number(rows[0]!.summary_through), turns };
}

/** Appends one turn, creating the session on its first turn; one statement, so it is all or nothing. */
export async function appendTurn(
  db: Db,
  tenantId: string,
  sessionId: string,
  turn: { question: string; standaloneQuestion: string; answer: string; sources: TurnSource[] },
): Promise<number> {
  const [row] = await db<{ id: string }[]>`
    WITH s AS (
      INSERT INTO chat_sessions (tenant_id, id) VALUES (${tenantId}, ${sessionId})
      ON CONFLICT (tenant_id, id) DO UPDATE SET updated_at = now()
      RETURNING tenant_id, id
    )
    INSERT INTO chat_turns (tenant_id, session_id, question, standalone_question, answer, sources)
    SELECT s.tenant_id, s.id, ${turn.question}, ${turn.standaloneQuestion}, ${turn.answer}, ${json(db, turn.sources)} FROM s
    RETURNING id`;
  return Number(row!.id);
}

/** Stores the summary of every turn up to `through`, unless a newer one is already stored. */
export async function saveSummary(db: Db, tenantId: string, sessionId: string, summary: string, through: number): Promise<void> {
  await db`
    UPDATE chat_sessions SET summary = ${summary}, summary_through = ${through}
    WHERE tenant_id = ${tenantId} AND id = ${sessionId} AND summary_through < ${through}`;
}
