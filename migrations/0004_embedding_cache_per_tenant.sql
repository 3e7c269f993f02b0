-- Cached embeddings belong to a tenant. Shared by text across tenants, they told one tenant
-- whether another had stored a text (an ingest's `embeddings.cached`, the speed of a question),
-- and deleting a conversation removed rows another tenant still used. Identical text in two
-- tenants is now embedded twice. Rows still used by a tenant's chunks are kept under that tenant;
-- the rest (questions' vectors, whose asker is not recorded) are dropped: they are a cache.
CREATE TABLE embedding_cache_by_tenant (
  tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  model         text NOT NULL,
  content_hash  text NOT NULL,
  embedding     vector(384) NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, model, content_hash)
);
INSERT INTO embedding_cache_by_tenant (tenant_id, model, content_hash, embedding, created_at, last_used_at)
SELECT DISTINCT ON (c.tenant_id, e.model, e.content_hash) c.tenant_id, e.model, e.content_hash, e.embedding, e.created_at, e.last_used_at
FROM conversation_chunks c
JOIN embedding_cache e ON e.model = c.embedding_model AND e.content_hash = encode(sha256(convert_to(c.text, 'UTF8')), 'hex');
DROP TABLE embedding_cache;
ALTER TABLE embedding_cache_by_tenant RENAME TO embedding_cache;
ALTER TABLE embedding_cache RENAME CONSTRAINT embedding_cache_by_tenant_pkey TO embedding_cache_pkey;
