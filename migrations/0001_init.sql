-- Schema for the conversation-RAG API. Every tenant-owned row carries tenant_id and every
-- query filters by it. Forward-only: change the schema with a new numbered file.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are stored as SHA-256 digests: they are random 256-bit secrets, so a slow hash adds nothing.
CREATE TABLE api_keys (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key_hash    text NOT NULL UNIQUE,
  key_prefix  text NOT NULL,
  role        text NOT NULL CHECK (role IN ('user', 'admin')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);

CREATE TABLE conversations (
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          text NOT NULL,
  title       text,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Bumped whenever messages or chunks change: the data version caches key on.
  version     bigint NOT NULL DEFAULT 1,
  message_count integer NOT NULL DEFAULT 0,
  chunk_count   integer NOT NULL DEFAULT 0,
  start_ts      timestamptz,
  end_ts        timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX conversations_updated_idx ON conversations (tenant_id, updated_at DESC);

CREATE TABLE messages (
  tenant_id        text NOT NULL,
  conversation_id  text NOT NULL,
  id               text NOT NULL,
  author_name      text NOT NULL,
  author_type      text NOT NULL,
  text             text NOT NULL,
  "timestamp"      timestamptz NOT NULL,
  order_index      integer NOT NULL,
  content_hash     text NOT NULL,
  PRIMARY KEY (tenant_id, conversation_id, id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation_idx ON messages (tenant_id, conversation_id, order_index);
CREATE INDEX messages_timestamp_idx ON messages (tenant_id, "timestamp" DESC);
CREATE INDEX messages_author_type_idx ON messages (tenant_id, author_type);
CREATE INDEX messages_conv_time_type_idx ON messages (tenant_id, conversation_id, "timestamp" DESC, author_type);

CREATE TABLE conversation_chunks (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        text NOT NULL,
  conversation_id  text NOT NULL,
  order_index      integer NOT NULL,
  text             text NOT NULL,
  message_ids      text[] NOT NULL,
  authors          text[] NOT NULL,
  author_types     text[] NOT NULL,
  -- The single author type of the chunk, or 'mixed': lets a btree serve the common one-type filter.
  author_type      text NOT NULL,
  start_ts         timestamptz NOT NULL,
  end_ts           timestamptz NOT NULL,
  token_count      integer NOT NULL,
  content_hash     text NOT NULL,
  embedding_model  text NOT NULL,
  embedding        vector(384) NOT NULL,
  tsv              tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX chunks_embedding_hnsw_idx ON conversation_chunks
  USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX chunks_tsv_idx ON conversation_chunks USING gin (tsv);
CREATE INDEX chunks_conversation_idx ON conversation_chunks (tenant_id, conversation_id, order_index);
CREATE INDEX chunks_time_idx ON conversation_chunks (tenant_id, start_ts DESC);
CREATE INDEX chunks_author_type_idx ON conversation_chunks (tenant_id, author_type);
CREATE INDEX chunks_conv_time_type_idx ON conversation_chunks (tenant_id, conversation_id, start_ts DESC, author_type);
CREATE INDEX chunks_authors_idx ON conversation_chunks USING gin (authors);

-- Embeddings by (model, content hash): identical text under the same model is embedded once,
-- across tenants (the hash reveals nothing without the text). Rows whose chunks are deleted
-- or re-ingested are removed with them (see the ingest service).
CREATE TABLE embedding_cache (
  model         text NOT NULL,
  content_hash  text NOT NULL,
  embedding     vector(384) NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, content_hash)
);
