// npm run eval:semantic: the question battery (scripts/lib/semantic-battery.ts: minimal pairs that
// differ in one crucial word, and true paraphrases) through the API of a fresh local stack: for each
// pair, the first question is asked (a MISS that fills the semantic cache), then the second; a
// cache hit on a minimal pair is a false hit (a wrong answer), on a paraphrase a saved answer
// (HIT-SEMANTIC, or HIT-L1 where the exact key already matches: case, a missing question mark).
// Each pair gets a scope of its own (max_context_tokens), so pairs never meet. Prints false hits and
// paraphrase hits by kind; SEMANTIC_CACHE_THRESHOLD and EMBEDDING_* pass through to the stack.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demoConversations, ingestAll } from "./lib/demo-data.ts";
import { startLocalStack } from "./lib/local-stack.ts";
import { minimalPairs, paraphrases, type QuestionPair } from "./lib/semantic-battery.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const passThrough = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => /^(SEMANTIC_CACHE_|EMBEDDING_|OPENAI_)/.test(k)) as [string, string][],
);
const stack = await startLocalStack(passThrough);
try {
  await ingestAll(stack.url, "dev-local-key", demoConversations());
  let scope = 100;
  const ask = async (query: string, maxContextTokens: number) => {
    const res = await fetch(`${stack.url}/api/rag/ask`, {
      method: "POST",
      headers: { authorization: "Bearer dev-local-key", "content-type": "application/json" },
      body: JSON.stringify({ query, stream: false, max_context_tokens: maxContextTokens }),
    });
    const body = (await res.json()) as { query?: { text: string } };
    if (!res.ok) throw new Error(`ask failed: ${res.status} ${JSON.stringify(body)}`);
    return res.headers.get("x-cache") ?? "";
  };
  const run = async (pairs: QuestionPair[]) => {
    const byKind = new Map<string, { pairs: number; hits: number; examples: string[] }>();
    for (const pair of pairs) {
      const tokens = ++scope;
      await ask(pair.a, tokens);
      const status = await ask(pair.b, tokens);
      const k = byKind.get(pair.kind) ?? { pairs: 0, hits: 0, examples: [] };
      k.pairs++;
      if (status.startsWith("HIT")) {
        k.hits++;
        if (k.examples.length < 3) k.examples.push(`${pair.a} → ${pair.b}`);
      }
      byKind.set(pair.kind, k);
    }
    return byKind;
  };
  const minimal = await run(minimalPairs());
  const para = await run(paraphrases());
  const total = (m: typeof minimal) =>
    [...m.values()].reduce((a, k) => ({ pairs: a.pairs + k.pairs, hits: a.hits + k.hits }), { pairs: 0, hits: 0 });
  const t1 = total(minimal);
  const t2 = total(para);
  console.log(
    `semantic cache battery through the API (threshold ${passThrough.SEMANTIC_CACHE_THRESHOLD ?? "0.9 (default)"}, embedder ${passThrough.EMBEDDING_PROVIDER ?? "local"})`,
  );
  console.log("| set | kind | pairs | cache hits |");
  console.log("|---|---|---:|---:|");
  for (const [kind, k] of minimal) console.log(`| minimal pairs (false hits) | ${kind} | ${k.pairs} | ${k.hits} |`);
  for (const [kind, k] of para) console.log(`| paraphrases | ${kind} | ${k.pairs} | ${k.hits} |`);
  console.log(
    `\nfalse hits: ${t1.hits} of ${t1.pairs} minimal pairs; paraphrase hits: ${t2.hits} of ${t2.pairs} (${((100 * t2.hits) / t2.pairs).toFixed(1)}%)`,
  );
  for (const [kind, k] of minimal) for (const e of k.examples) console.log(`  FALSE HIT (${kind}): ${e}`);
  const out = join(import.meta.dirname, "../reports");
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "eval-semantic.json"),
    JSON.stringify(
      {
        minimal: Object.fromEntries(minimal),
        paraphrases: Object.fromEntries(para),
        falseHits: t1.hits,
        paraphraseHitRate: t2.hits / t2.pairs,
      },
      null,
      2,
    ),
  );
  process.exitCode = t1.hits === 0 ? 0 : 1;
} finally {
  await stack.stop();
}
