-- A parse step that stops leaves a checkpoint in R2 (where in the file it stopped and what the
-- parser needs to go on) and the next step reads on from there, instead of parsing the file from
-- its start again; resume_key names the checkpoint (NULL: start at the file's first byte). An
-- import can be cancelled by its owner: 'cancelled' ends it like 'failed', with nothing more stored.
ALTER TABLE imports DROP CONSTRAINT imports_status_check;
ALTER TABLE imports ADD CONSTRAINT imports_status_check
  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE imports ADD COLUMN resume_key text;
