-- More than one embedding model per chunk (docs/EMBEDDING_MODELS.md). A tenant that changes model
-- gets the new model's vectors filled in beside the old ones by a background job (reembed_jobs),
-- keeps searching with the old model until every chunk has a new vector, then switches in one
-- statement (tenant_embedding_models); the old vectors are dropped afterwards. Vector columns lose
-- their fixed size: each model has its own.

CREATE TABLE chunk_vectors (
  chunk_id   uuid NOT NULL REFERENCES conversation_chunks (id) ON DELETE CASCADE,
  tenant_id  text NOT NULL,
  model      text NOT NULL,
  embedding  vector NOT NULL,
  PRIMARY KEY (chunk_id, model)
);
INSERT INTO chunk_vectors (chunk_id, tenant_id, model, embedding)
  SELECT id, tenant_id, embedding_model, embedding FROM conversation_chunks;
-- The job looks for the chunks a model has no vector for, and drops a model's vectors, by tenant.
CREATE INDEX chunk_vectors_tenant_model_idx ON chunk_vectors (tenant_id, model);
-- HNSW needs a fixed size: one partial index per dimension, the common ones here (384: the local
-- embedder and bge-small; 768: bge-base; 1024: bge-large and others; 1536: text-embedding-3-small).
-- A job to another dimension creates its index. Searches filter by model within the index.
CREATE INDEX chunk_vectors_hnsw_384 ON chunk_vectors USING hnsw ((embedding::vector(384)) vector_cosine_ops)
  WITH (m = 16, ef_construction = 64) WHERE vector_dims(embedding) = 384;
CREATE INDEX chunk_vectors_hnsw_768 ON chunk_vectors USING hnsw ((embedding::vector(768)) vector_cosine_ops)
  WITH (m = 16, ef_construction = 64) WHERE vector_dims(embedding) = 768;
CREATE INDEX chunk_vectors_hnsw_1024 ON chunk_vectors USING hnsw ((embedding::vector(1024)) vector_cosine_ops)
  WITH (m = 16, ef_construction = 64) WHERE vector_dims(embedding) = 1024;
CREATE INDEX chunk_vectors_hnsw_1536 ON chunk_vectors USING hnsw ((embedding::vector(1536)) vector_cosine_ops)
  WITH (m = 16, ef_construction = 64) WHERE vector_dims(embedding) = 1536;

-- The model each tenant searches with, from its first stored chunk on (a tenant without a row has
-- no chunks, and takes the configured model). Existing tenants keep the model their chunks have.
CREATE TABLE tenant_embedding_models (
  tenant_id    text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  provider     text NOT NULL,
  model        text NOT NULL,
  dimensions   integer NOT NULL,
  switched_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenant_embedding_models (tenant_id, provider, model, dimensions)
  SELECT DISTINCT ON (tenant_id) tenant_id,
    CASE WHEN embedding_model LIKE 'local-%' THEN 'local' WHEN embedding_model LIKE '@cf/%' THEN 'workers-ai' ELSE 'openai' END,
    embedding_model, 384
  FROM conversation_chunks c WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id)
  GROUP BY tenant_id, embedding_model ORDER BY tenant_id, count(*) DESC;

-- Re-embedding jobs (src/reembed): at most one unfinished per tenant. 'switched': the tenant
-- searches with the new model; the old model's vectors are still being dropped.
CREATE TABLE reembed_jobs (
  tenant_id      text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id             uuid NOT NULL,
  status         text NOT NULL CHECK (status IN ('queued', 'running', 'switched', 'succeeded', 'failed')),
  from_provider  text NOT NULL,
  from_model     text NOT NULL,
  from_dimensions integer NOT NULL,
  provider       text NOT NULL,
  model          text NOT NULL,
  dimensions     integer NOT NULL,
  chunks_total   integer NOT NULL DEFAULT 0,
  chunks_done    integer NOT NULL DEFAULT 0,
  vectors_dropped integer NOT NULL DEFAULT 0,
  steps          integer NOT NULL DEFAULT 0,
  errors         jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  started_at     timestamptz,
  switched_at    timestamptz,
  finished_at    timestamptz,
  heartbeat_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX reembed_jobs_one_unfinished ON reembed_jobs (tenant_id) WHERE status IN ('queued', 'running', 'switched');

-- The chunks' own vector and model go (the index on it with them): chunk_vectors has them.
ALTER TABLE conversation_chunks DROP COLUMN embedding, DROP COLUMN embedding_model;
ALTER TABLE embedding_cache ALTER COLUMN embedding TYPE vector;
ALTER TABLE semantic_cache ALTER COLUMN embedding TYPE vector;
