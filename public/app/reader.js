// @ts-check
// Reading a conversation: its messages by day, in pages (GET /api/conversations/:id/messages), or
// the window around a cited message with that message highlighted.
import { explain, getJson } from "./api.js";
import { byId, dateTime, day, h, isolated, isolatedList, plural, time } from "./dom.js";

/**
 * @typedef {{ id: string, author_name: string, author_type: string, text: string, timestamp: string }} Message
 * @typedef {{ messages: Message[], next_cursor: string | null, prev_cursor: string | null }} MessagePage
 */

const PAGE = 50;
const CONTEXT = 8;

export function setUpReader() {
  const heading = byId("reader-h");
  const meta = byId("reader-meta");
  const box = byId("messages");
  const status = byId("reader-status");
  const earlier = /** @type {HTMLButtonElement} */ (byId("earlier"));
  const later = /** @type {HTMLButtonElement} */ (byId("later"));
  const state = {
    /** @type {string | undefined} */ id: undefined,
    /** @type {Message[]} */ messages: [],
    /** @type {string | null} */ prev: null,
    /** @type {string | null} */ next: null,
    /** @type {Set<string>} */ highlight: new Set(),
    generation: 0,
  };
  /** @type {(id: string | undefined) => void} */
  let onOpen = () => {};

  const base = () => `/api/conversations/${encodeURIComponent(state.id ?? "")}/messages`;

  const render = () => {
    /** @type {HTMLElement[]} */
    const days = [];
    /** @type {HTMLOListElement | undefined} */
    let list;
    let current = "";
    for (const m of state.messages) {
      const d = day(m.timestamp);
      if (d !== current || !list) {
        current = d;
        list = h("ol", { class: "plain messages" });
        days.push(h("section", { class: "day" }, h("h3", { class: "small" }, d), list));
      }
      const hit = state.highlight.has(m.id);
      list.append(
        h(
          "li",
          {
            id: `message-${m.id}`,
            class: hit ? "message cited" : "message",
            tabindex: hit ? "-1" : undefined,
            "aria-current": hit ? "true" : undefined,
          },
          h(
            "p",
            { class: "who small" },
            h("strong", { dir: "auto" }, m.author_name),
            ` ${time(m.timestamp)}`,
            m.author_type !== "human" ? ` · ${m.author_type}` : "",
            hit ? " · cited" : "",
          ),
          h("p", { class: "text", dir: "auto" }, m.text),
        ),
      );
    }
    box.replaceChildren(...days);
    earlier.hidden = state.prev === null;
    later.hidden = state.next === null;
  };

  /** @param {string} path @param {(page: MessagePage) => void} apply */
  const fetchInto = async (path, apply) => {
    const mine = state.generation;
    status.textContent = "Loading messages…";
    try {
      /** @type {MessagePage} */
      const page = await getJson(path);
      if (mine !== state.generation) return false;
      apply(page);
      render();
      status.textContent = state.messages.length === 0 ? "This conversation has no messages." : "";
      return true;
    } catch (err) {
      if (mine === state.generation) status.textContent = explain(err);
      return false;
    }
  };

  /**
   * Opens a conversation at its start, or around the first of `highlight`.
   * @param {string} id @param {string[]} [highlight]
   */
  const open = async (id, highlight = []) => {
    state.generation++;
    state.id = id;
    state.highlight = new Set(highlight);
    state.messages = [];
    heading.replaceChildren(isolated(id));
    meta.textContent = "";
    box.replaceChildren();
    onOpen(id);
    const mine = state.generation;
    getJson(`/api/conversations/${encodeURIComponent(id)}`)
      .then((/** @type {any} */ c) => {
        if (mine !== state.generation) return;
        heading.replaceChildren(isolated(c.title || c.id));
        meta.replaceChildren(
          `${plural(c.message_count, "message")} · `,
          ...isolatedList(c.participants),
          ` · ${dateTime(c.start)} – ${dateTime(c.end)}`,
        );
      })
      .catch((err) => {
        if (mine === state.generation) meta.textContent = explain(err);
      });
    const first = highlight[0];
    const path =
      first === undefined
        ? `${base()}?limit=${PAGE}`
        : `${base()}?around=${encodeURIComponent(first)}&before=${CONTEXT}&after=${Math.max(CONTEXT, highlight.length + CONTEXT)}`;
    const loaded = await fetchInto(path, (page) => {
      state.messages = page.messages;
      state.prev = page.prev_cursor;
      state.next = page.next_cursor;
    });
    if (!loaded) return;
    const target = first === undefined ? heading : document.getElementById(`message-${first}`);
    target?.scrollIntoView({ block: "center" });
    target?.focus();
  };

  earlier.addEventListener("click", () =>
    fetchInto(`${base()}?limit=${PAGE}&cursor=${encodeURIComponent(state.prev ?? "")}`, (page) => {
      state.messages = [...page.messages, ...state.messages];
      state.prev = page.prev_cursor;
    }),
  );
  later.addEventListener("click", () =>
    fetchInto(`${base()}?limit=${PAGE}&cursor=${encodeURIComponent(state.next ?? "")}`, (page) => {
      state.messages = [...state.messages, ...page.messages];
      state.next = page.next_cursor;
    }),
  );

  return {
    open,
    current: () => state.id,
    /** @param {(id: string | undefined) => void} f */
    onOpen: (f) => {
      onOpen = f;
    },
  };
}
