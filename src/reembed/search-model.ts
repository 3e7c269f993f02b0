import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { type EmbeddingModel, tenantEmbeddingModel } from "../db/embedding-models.ts";
import { errorText, logLine } from "../log.ts";
import { configuredModel } from "./embedders.ts";

/** How long an isolate trusts a tenant's search model; a switch keeps the old vectors longer (REEMBED_GRACE_SECONDS). */
export const SEARCH_MODEL_TTL_MS = 10_000;
const MAX_TENANTS = 1000;

const known = new Map<string, { model: EmbeddingModel; until: number }>();

/**
 * The model the tenant's questions are embedded with: the one its chunks are searched by
 * (tenant_embedding_models), or the configured one for a tenant that has stored nothing yet.
 * Looked up at most every SEARCH_MODEL_TTL_MS per isolate: it changes only when a job switches it.
 */
export async function searchModel(db: () => Db, tenantId: string, config: Config): Promise<EmbeddingModel> {
  const hit = known.get(tenantId);
  if (hit && hit.until > Date.now()) return hit.model;
  let model: EmbeddingModel;
  try {
    model = (await tenantEmbeddingModel(db(), tenantId)) ?? configuredModel(config);
  } catch (err) {
    // The database is down: a cached answer needs none, so the last model known here (else the
    // configured one) keys the lookup; a search would fail on its own anyway.
    logLine("warn", { event: "search_model_unknown", tenant: tenantId, error: errorText(err) });
    return hit?.model ?? configuredModel(config);
  }
  if (known.size >= MAX_TENANTS) known.clear();
  known.set(tenantId, { model, until: Date.now() + SEARCH_MODEL_TTL_MS });
  return model;
}

/** Forgets the tenant's model in this isolate (after a switch here). */
export function forgetSearchModel(tenantId: string): void {
  known.delete(tenantId);
}
