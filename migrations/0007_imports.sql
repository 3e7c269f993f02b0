-- Background imports of chat exports (src/imports): one row per uploaded file, its progress and
-- outcome. The file itself is in R2 (IMPORTS_BUCKET) under object_key until the import ends.
CREATE TABLE imports (
  tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id               uuid NOT NULL,
  status           text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  format           text,
  options          jsonb NOT NULL DEFAULT '{}'::jsonb,
  object_key       text NOT NULL,
  bytes            bigint NOT NULL,
  messages_parsed  integer NOT NULL DEFAULT 0,
  messages_stored  integer NOT NULL DEFAULT 0,
  conversations    jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- The first skipped parts (where, reason) and how many there were in all.
  skipped          jsonb NOT NULL DEFAULT '[]'::jsonb,
  skipped_count    integer NOT NULL DEFAULT 0,
  errors           jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- Batches stored so far: a step that resumes skips them (re-storing one would change nothing).
  batches_done     integer NOT NULL DEFAULT 0,
  steps            integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX imports_created_idx ON imports (tenant_id, created_at DESC);
