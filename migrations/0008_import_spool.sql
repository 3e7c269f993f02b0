-- Imports parse their file once: the first steps write its batches to R2 (spool/<tenant>/<id>/<n>),
-- the later ones store them in order. Before this, every step parsed the file from its start and
-- skipped what was stored, so a long import parsed it about steps/2 times.
ALTER TABLE imports
  -- Batches written to the spool so far: a parse step that resumes skips them.
  ADD COLUMN batches_spooled integer NOT NULL DEFAULT 0,
  -- All the file's batches, once its parse has ended; NULL while it is being parsed.
  ADD COLUMN batches_total integer,
  -- The last sign of life of its steps (queued, step started, batches written or stored): an
  -- unfinished import silent for IMPORT_STALL_MINUTES has lost its queue message, and the
  -- watchdog (src/scheduled.ts) queues its next step again.
  ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX imports_unfinished_idx ON imports (heartbeat_at) WHERE status IN ('queued', 'running');
