// @ts-check
// The conversation list: pages of GET /api/conversations, searched by title.
import { explain, getJson } from "./api.js";
import { byId, dateTime, h, isolated, isolatedList, plural } from "./dom.js";

/**
 * @typedef {{ id: string, title: string | null, message_count: number, participants: string[],
 *   start: string | null, end: string | null }} ConversationSummary
 */

/** @param {{ open: (id: string) => void }} deps */
export function setUpLibrary(deps) {
  const list = byId("conversation-list");
  const more = /** @type {HTMLButtonElement} */ (byId("more-conversations"));
  const status = byId("library-status");
  const search = /** @type {HTMLInputElement} */ (byId("search"));
  /** @type {string | null} */
  let cursor = null;
  let generation = 0;

  const load = async (/** @type {boolean} */ fresh) => {
    const mine = fresh ? ++generation : generation;
    const q = search.value.trim();
    const params = new URLSearchParams({ limit: "20" });
    if (q) params.set("q", q);
    if (!fresh && cursor) params.set("cursor", cursor);
    status.textContent = "Loading…";
    try {
      /** @type {{ conversations: ConversationSummary[], next_cursor: string | null }} */
      const page = await getJson(`/api/conversations?${params}`);
      if (mine !== generation) return;
      if (fresh) list.replaceChildren();
      list.append(...page.conversations.map((c) => item(c, deps.open)));
      cursor = page.next_cursor;
      more.hidden = cursor === null;
      if (list.childElementCount > 0) status.textContent = "";
      else if (q) status.replaceChildren("No conversation matches “", isolated(q), "”.");
      else status.textContent = "No conversations yet: import an export below.";
    } catch (err) {
      if (mine === generation) status.textContent = explain(err);
    }
  };

  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => load(true), 200);
  });
  byId("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(timer);
    void load(true);
  });
  more.addEventListener("click", () => load(false));
  return { reload: () => load(true) };
}

/** @param {ConversationSummary} c @param {(id: string) => void} open */
function item(c, open) {
  const more = c.participants.length - 4;
  const button = h(
    "button",
    { type: "button", class: "conversation", "data-id": c.id },
    h("span", { class: "title", dir: "auto" }, c.title || c.id),
    h("span", { class: "muted small" }, ...isolatedList(c.participants.slice(0, 4)), more > 0 ? ` +${more}` : ""),
    h("span", { class: "muted small" }, `${plural(c.message_count, "message")}${c.end ? ` · last ${dateTime(c.end)}` : ""}`),
  );
  button.addEventListener("click", () => open(c.id));
  return h("li", {}, button);
}
