// @ts-check
// Asking: the question goes to POST /api/rag/ask; the answer streams into the turn as it arrives,
// its [n] citations become buttons that open the cited message, and what the API reports (cache,
// time to first token, tokens, fallbacks, limits) is shown under it.
import { ApiError, call, explain } from "./api.js";
import { byId, dateTime, h, isolated, isolatedList, plural } from "./dom.js";
import { serverEvents } from "./sse.js";

/**
 * @typedef {{ id: string, author_name: string, timestamp: string, text: string }} SourceMessage
 * @typedef {{ n: number, id: string, conversation_id: string, conversation_title?: string | null, message_ids: string[],
 *   speakers: string[], start: string, end: string, messages?: SourceMessage[], cited?: boolean }} Source
 * @typedef {{ n: number, source_id: string, message_ids: string[] }} Citation
 * @typedef {(conversationId: string, messageIds: string[]) => void} ShowMessage
 */

/** A citation's beginning at the end of the text so far ("[", "[1"): held back until it completes. */
const PARTIAL_CITATION = /\[\d{0,3}$/;
const CITATION = /\[(\d{1,3})\]/g;

/**
 * @param {{ scope: () => string | undefined, show: ShowMessage }} deps the open conversation (for
 *   the "this conversation" scope) and how to show a cited message
 */
export function setUpAsking(deps) {
  const form = /** @type {HTMLFormElement} */ (byId("ask-form"));
  const question = /** @type {HTMLTextAreaElement} */ (byId("question"));
  const askButton = /** @type {HTMLButtonElement} */ (byId("ask"));
  const stopButton = /** @type {HTMLButtonElement} */ (byId("stop"));
  const turns = byId("turns");
  const error = byId("ask-error");
  let sessionId = crypto.randomUUID();
  /** @type {AbortController | undefined} */
  let running;

  byId("new-session").addEventListener("click", () => {
    running?.abort();
    sessionId = crypto.randomUUID();
    turns.replaceChildren();
    error.textContent = "";
    question.focus();
  });
  stopButton.addEventListener("click", () => running?.abort());
  question.addEventListener("keydown", (e) => {
    // Enter asks, Shift+Enter is a new line (as in chat apps).
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = question.value.trim();
    if (!text || running) return;
    error.textContent = "";
    const controller = new AbortController();
    running = controller;
    askButton.disabled = true;
    stopButton.disabled = false;
    const turn = new Turn(text, deps.show);
    turns.append(turn.element);
    question.value = "";
    try {
      const res = await call("/api/rag/ask", { method: "POST", json: askBody(text, sessionId, deps.scope()), signal: controller.signal });
      turn.cache = res.headers.get("x-cache") ?? undefined;
      if (!res.body) throw new Error("the answer had no body");
      for await (const event of serverEvents(res.body)) turn.receive(event.event, JSON.parse(event.data));
      turn.end();
    } catch (err) {
      turn.fail(err);
      if (!(err instanceof DOMException && err.name === "AbortError")) error.textContent = explain(err);
    } finally {
      running = undefined;
      askButton.disabled = false;
      stopButton.disabled = true;
    }
  });
}

/**
 * The request body: the question, the session (unless the person chose questions that stand
 * alone: an ask in a session is never answered from the cache), and the scope and filters.
 * @param {string} query @param {string} sessionId @param {string | undefined} openConversation
 */
function askBody(query, sessionId, openConversation) {
  const scope = /** @type {HTMLInputElement | null} */ (document.querySelector("input[name=scope]:checked"))?.value;
  const authors = /** @type {HTMLInputElement} */ (byId("authors")).value
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  const from = /** @type {HTMLInputElement} */ (byId("from")).value;
  const to = /** @type {HTMLInputElement} */ (byId("to")).value;
  /** @type {Record<string, unknown>} */
  const filters = {};
  if (authors.length > 0) filters.author_names = authors;
  // Dates from the form are whole local days.
  if (from) filters.from = new Date(`${from}T00:00:00`).toISOString();
  if (to) filters.to = new Date(`${to}T23:59:59.999`).toISOString();
  const remember = /** @type {HTMLInputElement} */ (byId("follow-ups")).checked;
  return {
    query,
    ...(remember ? { session_id: sessionId } : {}),
    stream: true,
    ...(scope === "open" && openConversation ? { conversation_id: openConversation } : {}),
    ...(Object.keys(filters).length > 0 ? { filters } : {}),
  };
}

/** One question and its answer as it streams. */
class Turn {
  /** @param {string} question @param {ShowMessage} show */
  constructor(question, show) {
    this.show = show;
    /** @type {Source[]} */
    this.sources = [];
    /** @type {Map<number, string[]>} */
    this.citations = new Map();
    this.pending = "";
    this.received = "";
    /** @type {string | undefined} */
    this.cache = undefined;
    this.rewrite = h("p", { class: "muted small" });
    // The model's words (which may quote the archive) in their own isolate; notes of the page after it.
    this.said = h("bdi", {});
    this.answer = h("p", { class: "answer", "aria-live": "polite", "aria-busy": "true" }, this.said);
    this.facts = h("p", { class: "facts muted small" });
    this.sourceList = h("div", { class: "sources" });
    this.element = h(
      "li",
      { class: "turn" },
      h("p", { class: "question" }, h("span", { class: "visually-hidden" }, "You asked: "), isolated(question)),
      this.rewrite,
      this.answer,
      this.facts,
      this.sourceList,
    );
  }

  /** @param {string} event @param {any} data */
  receive(event, data) {
    if (event === "meta") {
      this.sources = data.sources ?? [];
      if (data.query?.rewritten_by && data.query.standalone !== data.query.text) {
        this.rewrite.replaceChildren("Searched for: ", isolated(data.query.standalone));
      }
      this.facts.textContent = this.cache ? `cache ${this.cache}` : "";
    } else if (event === "delta") {
      this.write(String(data.text ?? ""));
    } else if (event === "done") {
      this.flush();
      for (const c of /** @type {Citation[]} */ (data.citations ?? [])) this.citations.set(c.n, c.message_ids);
      const cited = new Set(this.citations.keys());
      for (const s of this.sources) s.cited = cited.has(s.n);
      this.facts.textContent = describe(data, this.cache);
      this.renderSources();
    } else if (event === "error") {
      this.flush();
      this.note(`The answer broke off: ${data.detail ?? data.title ?? "the model failed"}`);
    }
  }

  /** Appends streamed text; a citation split across two pieces waits for its end. */
  write(/** @type {string} */ text) {
    this.received += text;
    const all = this.pending + text;
    const partial = all.match(PARTIAL_CITATION);
    const ready = partial ? all.slice(0, partial.index) : all;
    this.pending = partial ? partial[0] : "";
    this.append(ready);
  }

  flush() {
    this.append(this.pending);
    this.pending = "";
  }

  /** @param {string} text */
  append(text) {
    if (!text) return;
    let last = 0;
    for (const m of text.matchAll(CITATION)) {
      if (m.index > last) this.said.append(text.slice(last, m.index));
      this.said.append(this.citationButton(Number(m[1])));
      last = m.index + m[0].length;
    }
    if (last < text.length) this.said.append(text.slice(last));
  }

  /** @param {number} n */
  citationButton(n) {
    const button = h("button", { type: "button", class: "cite", "aria-label": `Show source ${n}` }, `[${n}]`);
    button.addEventListener("click", () => this.open(n));
    return button;
  }

  /** Shows the messages source `n` is cited for (all of its messages when the answer has not finished). */
  open(/** @type {number} */ n) {
    const source = this.sources.find((s) => s.n === n);
    if (!source) return;
    this.show(source.conversation_id, this.citations.get(n) ?? source.message_ids);
  }

  renderSources() {
    if (this.sources.length === 0) return;
    const cited = this.sources.filter((s) => s.cited);
    const others = this.sources.filter((s) => !s.cited);
    const item = (/** @type {Source} */ s) => {
      const open = h("button", { type: "button", class: "link" }, `[${s.n}] `, isolated(s.conversation_title || s.conversation_id));
      open.addEventListener("click", () => this.open(s.n));
      return h("li", { class: "source" }, open, " ", h("span", { class: "muted" }, ...isolatedList(s.speakers), ` · ${dateTime(s.start)}`));
    };
    const list = h("ul", { class: "plain" }, ...cited.map(item));
    const rest =
      others.length === 0
        ? null
        : h(
            "details",
            { class: "uncited" },
            h("summary", {}, `${plural(others.length, "source")} read but not cited`),
            h("ul", { class: "plain" }, ...others.map(item)),
          );
    this.sourceList.replaceChildren(cited.length > 0 ? h("h3", { class: "small" }, "Cited") : "", list, rest ?? "");
  }

  end() {
    this.flush();
    this.answer.setAttribute("aria-busy", "false");
    if (this.received === "") this.note("The server sent no answer.");
  }

  /** @param {unknown} err */
  fail(err) {
    this.flush();
    this.answer.setAttribute("aria-busy", "false");
    if (err instanceof DOMException && err.name === "AbortError") {
      this.note("Stopped.");
      this.renderSources();
    } else {
      this.note(explain(err));
      if (err instanceof ApiError) this.element.classList.add("failed");
    }
  }

  /** @param {string} text */
  note(text) {
    this.answer.append(h("span", { class: "note" }, this.received ? ` ${text}` : text));
  }
}

/**
 * The facts under an answer, from its done event.
 * @param {any} done @param {string | undefined} cache
 */
function describe(done, cache) {
  const parts = [];
  if (cache) parts.push(`cache ${cache}`);
  if (done.timings?.ttft !== undefined) parts.push(`first token ${Math.round(done.timings.ttft)} ms`);
  const usage = done.usage;
  if (usage) {
    parts.push(`${plural(usage.prompt_tokens ?? 0, "token")} in, ${(usage.completion_tokens ?? 0).toLocaleString()} out`);
    if (usage.tokens_saved > 0) parts.push(`${usage.tokens_saved.toLocaleString()} saved`);
  }
  if (done.nothing_relevant) parts.push("nothing relevant found");
  if (done.fallback) parts.push(`fallback answer (${String(done.fallback_reason ?? "model unavailable").replaceAll("_", " ")})`);
  return parts.join(" · ");
}
