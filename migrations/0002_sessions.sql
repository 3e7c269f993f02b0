-- Ask sessions: the question/answer history behind follow-up questions. A session id is chosen
-- by the client and scoped by tenant, so two tenants using the same id never share a history.

CREATE TABLE chat_sessions (
  tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id               text NOT NULL,
  -- Summary of every turn up to and including summary_through (a chat_turns.id), when the
  -- history outgrew its budget; reused until more turns fall out of the verbatim window.
  summary          text,
  summary_through  bigint NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE chat_turns (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id            text NOT NULL,
  session_id           text NOT NULL,
  question             text NOT NULL,
  standalone_question  text NOT NULL,
  answer               text NOT NULL,
  -- Citation number, conversation and message ids of each source the answer was given with.
  sources              jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at           timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, session_id) REFERENCES chat_sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_turns_session_idx ON chat_turns (tenant_id, session_id, id DESC);
