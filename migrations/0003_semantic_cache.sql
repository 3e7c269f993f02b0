-- Semantic answer cache: a new question close enough to a cached one (same tenant, same scope and
-- data version, same answer parameters) gets its answer, when guards find no telling difference.

CREATE TABLE semantic_cache (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- Hash of everything but the question that shapes an answer, data version included.
  scope_key        text NOT NULL,
  question         text NOT NULL,
  embedding_model  text NOT NULL,
  embedding        vector(384) NOT NULL,
  entry            jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL
);
CREATE INDEX semantic_cache_scope_idx ON semantic_cache (tenant_id, scope_key, expires_at);
