import type { Db } from "./client.ts";

// Which embedding model each tenant searches with (migrations/0009): tenant_embedding_models holds
// it from the tenant's first stored chunk on; an unfinished re-embedding job adds the model whose
// vectors it is filling (or, once switched, the old one whose vectors it is dropping).

/** An embedding model as stored: who serves it, its name, the size of its vectors. */
export interface EmbeddingModel {
  provider: string;
  model: string;
  dimensions: number;
}

/** The tenant's search model, or undefined when it has stored no chunk yet (it takes the configured one). */
export async function tenantEmbeddingModel(db: Db, tenantId: string): Promise<EmbeddingModel | undefined> {
  const [row] = await db<EmbeddingModel[]>`
    SELECT provider, model, dimensions FROM tenant_embedding_models WHERE tenant_id = ${tenantId}`;
  return row;
}

/**
 * The models the tenant's chunks need vectors for, its search model first; `configured` becomes
 * its model if it has none. The row is read FOR SHARE: a switch of model (which updates it) waits
 * for the ingests in flight, and an ingest after the switch sees the new model.
 */
export async function liveEmbeddingModels(db: Db, tenantId: string, configured: EmbeddingModel): Promise<EmbeddingModel[]> {
  const rows = await db<(EmbeddingModel & { rank: number })[]>`
    WITH added AS (
      INSERT INTO tenant_embedding_models (tenant_id, provider, model, dimensions)
      VALUES (${tenantId}, ${configured.provider}, ${configured.model}, ${configured.dimensions})
      ON CONFLICT (tenant_id) DO NOTHING
      RETURNING provider, model, dimensions),
    current AS (
      SELECT provider, model, dimensions FROM tenant_embedding_models WHERE tenant_id = ${tenantId} FOR SHARE)
    SELECT provider, model, dimensions, 0 AS rank FROM added
    UNION ALL SELECT provider, model, dimensions, 0 AS rank FROM current
    UNION ALL
    SELECT CASE WHEN status = 'switched' THEN from_provider ELSE provider END,
      CASE WHEN status = 'switched' THEN from_model ELSE model END,
      CASE WHEN status = 'switched' THEN from_dimensions ELSE dimensions END, 1 AS rank
    FROM reembed_jobs WHERE tenant_id = ${tenantId} AND status IN ('queued', 'running', 'switched')
    ORDER BY rank`;
  const live: EmbeddingModel[] = [];
  for (const r of rows) {
    if (!live.some((m) => m.model === r.model)) live.push({ provider: r.provider, model: r.model, dimensions: r.dimensions });
  }
  return live;
}
