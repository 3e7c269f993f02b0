// npm run bench:page: the chat page as a person gets it from `npm start`, measured in headless
// Chromium (Debian's, through playwright-core). In one run, on npm start's stack (scripts/dev.ts
// on a temp folder, the default offline extractive answerer, the demo data):
//   - the page's size: its scripts and stylesheet as served, raw and gzipped;
//   - time to first render: navigation start to the first contentful paint, and to the page being
//     usable (its script ran: the "convo-rag:ready" mark), each of --loads fresh tabs;
//   - time to the first answer token: from the Ask click to the first answer text in the page, for
//     --asks demo questions asked as the page does by default (in its session, so never cached),
//     and for the same questions asked again without the session (answered from the cache);
//   - the floor: GET /health from the same page (fetch), in the same run.
// Prints the figures; writes reports/bench-page-*.json and reports/page.png (a screenshot of an
// answer with its cited message open: docs/images/chat-page.png is one).
//   options: --loads 10 --asks 16 --out reports
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { launchChromium } from "./lib/chromium.ts";
import { parseCli } from "./lib/cli.ts";
import { DEMO_QUESTIONS } from "./lib/demo-questions.ts";
import { startDevStack } from "./lib/dev-stack.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const USAGE = `usage: npm run bench:page -- [--loads 10] [--asks 16] [--out reports]
  --loads  fresh tabs whose first render is timed
  --asks   uncached questions whose first answer token is timed (the demo questions, in turn)`;
const { values: args } = parseCli(
  {
    loads: { type: "string", default: "10" },
    asks: { type: "string", default: "16" },
    out: { type: "string", default: join(import.meta.dirname, "../reports") },
  },
  USAGE,
);
const LOADS = Number(args.loads);
const ASKS = Number(args.asks);
const KEY = "dev-local-key";

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
const summary = (xs: number[]) => ({ p50: Math.round(quantile(xs, 0.5)), p95: Math.round(quantile(xs, 0.95)), n: xs.length });
const fmt = (s: { p50: number; p95: number; n: number }) => `${s.p50} / ${s.p95} ms (${s.n})`;

/** The page's own files as served: scripts and stylesheet, raw and gzipped bytes. */
function pageSize() {
  const dir = join(import.meta.dirname, "../public/app");
  const files = readdirSync(dir).filter((f) => f.endsWith(".js") || f.endsWith(".css"));
  const of = (ext: string) => {
    const bodies = files.filter((f) => f.endsWith(ext)).map((f) => readFileSync(join(dir, f)));
    return {
      files: bodies.length,
      bytes: bodies.reduce((n, b) => n + b.length, 0),
      gzip: bodies.reduce((n, b) => n + gzipSync(b).length, 0),
    };
  };
  const html = readFileSync(join(import.meta.dirname, "../public/index.html"));
  return { scripts: of(".js"), styles: of(".css"), html: { bytes: html.length, gzip: gzipSync(html).length } };
}

/** Records, in the page, the time of the Ask click and of the first answer text after it. */
async function armTtft(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { clickAt?: number; firstTextAt?: number };
    document.getElementById("ask")!.addEventListener("click", () => {
      w.clickAt = performance.now();
      w.firstTextAt = undefined;
    });
    new MutationObserver(() => {
      const answer = document.querySelector("#turns > li:last-child .answer");
      if (w.clickAt !== undefined && w.firstTextAt === undefined && answer && (answer.textContent ?? "") !== "")
        w.firstTextAt = performance.now();
    }).observe(document.getElementById("turns")!, { childList: true, subtree: true, characterData: true });
  });
}

async function askOnce(page: Page, question: string): Promise<{ ttft: number; cache: string }> {
  const before = await page.locator("#turns > li").count();
  await page.getByLabel("Question", { exact: true }).fill(question);
  await page.getByRole("button", { name: "Ask", exact: true }).click();
  // The answer has ended when it is no longer busy.
  await page.locator("#turns > li").nth(before).locator('.answer[aria-busy="false"]').waitFor({ timeout: 30_000 });
  const ttft = await page.evaluate(() => {
    const w = window as unknown as { clickAt?: number; firstTextAt?: number };
    return w.firstTextAt !== undefined && w.clickAt !== undefined ? w.firstTextAt - w.clickAt : Number.NaN;
  });
  const facts = (await page.locator("#turns > li").nth(before).locator(".facts").textContent()) ?? "";
  return { ttft, cache: facts.match(/cache (\S+)/)?.[1] ?? "?" };
}

mkdirSync(args.out, { recursive: true });
const stack = await startDevStack({ prefix: "convo-rag-bench-page-", vars: { LOG_REQUESTS: "false" } });
const browser = await launchChromium();
try {
  const size = pageSize();
  const firstPaint: number[] = [];
  const ready: number[] = [];
  for (let i = 0; i < LOADS + 1; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(stack.url);
    await page.waitForFunction(() => performance.getEntriesByName("convo-rag:ready").length > 0);
    const t = await page.evaluate(() => ({
      fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN,
      ready: performance.getEntriesByName("convo-rag:ready")[0]!.startTime,
    }));
    await context.close();
    if (i === 0) continue; // the first load warms wrangler's asset server
    firstPaint.push(t.fcp);
    ready.push(t.ready);
  }

  // The README's picture: the first demo question, its answer, and the cited message opened.
  {
    const shot = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    await shot.goto(stack.url);
    await shot.getByLabel("API key").fill(KEY);
    await shot.getByRole("button", { name: "Sign in" }).click();
    await shot.locator("#conversation-list button").first().waitFor();
    await shot.getByLabel("Question", { exact: true }).fill(DEMO_QUESTIONS[0]!);
    await shot.getByRole("button", { name: "Ask", exact: true }).click();
    await shot.locator("#turns button.cite").first().click();
    await shot.locator("#messages li.cited").first().waitFor();
    await shot.screenshot({ path: join(args.out, "page.png") });
    await shot.context().close();
  }

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(stack.url);
  await page.getByLabel("API key").fill(KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#conversation-list button").first().waitFor();
  await armTtft(page);
  const health: number[] = [];
  const uncached: number[] = [];
  const cached: number[] = [];
  const run = `${Date.now()}`;
  // As the page asks by default: in its session (follow-ups work), so after the first question never from the cache.
  for (let i = 0; i < ASKS; i++) {
    health.push(
      await page.evaluate(async () => {
        const t = performance.now();
        await (await fetch("/health")).arrayBuffer();
        return performance.now() - t;
      }),
    );
    const fresh = await askOnce(page, `${DEMO_QUESTIONS[i % DEMO_QUESTIONS.length]} (${run}-${i})`);
    if (fresh.cache !== "BYPASS" && fresh.cache !== "MISS") throw new Error(`expected an answer made for this ask, got ${fresh.cache}`);
    uncached.push(fresh.ttft);
  }
  // Questions that stand alone (no session) are cached: each asked once, then again.
  await page.getByLabel("Remember this session for follow-up questions").uncheck();
  for (let i = 0; i < ASKS; i++) {
    const q = `${DEMO_QUESTIONS[i % DEMO_QUESTIONS.length]} (${run}-alone-${i})`;
    await askOnce(page, q);
    const again = await askOnce(page, q);
    if (!again.cache.startsWith("HIT")) throw new Error(`expected a cached answer, got ${again.cache}`);
    cached.push(again.ttft);
  }
  await context.close();

  const report = {
    date: new Date().toISOString(),
    size,
    first_contentful_paint_ms: summary(firstPaint),
    usable_ms: summary(ready),
    first_answer_token_ms: { in_session: summary(uncached), cached: summary(cached) },
    health_from_page_ms: summary(health),
  };
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.table({
    "page scripts (raw / gzip)": `${size.scripts.files} files, ${kb(size.scripts.bytes)} / ${kb(size.scripts.gzip)}`,
    "stylesheet (raw / gzip)": `${kb(size.styles.bytes)} / ${kb(size.styles.gzip)}`,
    "index.html (raw / gzip)": `${kb(size.html.bytes)} / ${kb(size.html.gzip)}`,
    "first contentful paint, p50 / p95": fmt(report.first_contentful_paint_ms),
    "page usable (script ran), p50 / p95": fmt(report.usable_ms),
    "Ask click → first answer text, in a session (uncached), p50 / p95": fmt(report.first_answer_token_ms.in_session),
    "Ask click → first answer text, asked again alone (cached), p50 / p95": fmt(report.first_answer_token_ms.cached),
    "GET /health from the page (floor), p50 / p95": fmt(report.health_from_page_ms),
  });
  mkdirSync(args.out, { recursive: true });
  const file = join(args.out, `bench-page-${report.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${file}`);
} finally {
  await browser.close();
  await stack.stop();
}
