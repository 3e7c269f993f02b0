// Bindings the Worker reads when they are configured but that wrangler.toml does not declare by
// default, so `wrangler types` leaves them out of Env.
interface Env {
  /**
   * Workers AI (EMBEDDING_PROVIDER or CHAT_PROVIDER = workers-ai): add `[ai] binding = "AI"` to
   * wrangler.toml on deploy (docs/WORKERS_AI.md). Not declared there by default: under
   * `wrangler dev` and in the tests the binding always calls Cloudflare, which the offline
   * `npm start` cannot (wrangler stops, asking for CLOUDFLARE_API_TOKEN). Once `wrangler types`
   * has generated `AI: Ai`, delete this declaration: TypeScript refuses the two modifiers.
   */
  AI?: Ai;
}
