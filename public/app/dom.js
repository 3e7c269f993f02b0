// @ts-check
// DOM helpers. Everything the page shows from the server goes in as text nodes: a message or an
// answer that contains "<script>" or "</excerpts>" shows exactly that, it is never parsed as HTML.
// Text from the archive (titles, names, messages, answers) also goes in its own bidi isolate
// (isolated(), or dir="auto" on an element that holds nothing else): right-to-left text or a
// U+202E inside it reorders only itself, never the page's own words beside it.

/**
 * An element with attributes and children; string children become text nodes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | boolean | undefined>} [attrs] `false` and `undefined` leave an attribute out
 * @param {(Node | string | null | undefined | false)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 * @example h("p", { class: "muted" }, "3 messages")
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

/**
 * Text from the archive as a <bdi>: isolated, its direction taken from its own first letters.
 * @param {string} text
 * @example h("p", {}, isolated(name), " 10:32") // "10:32" stays after a right-to-left name
 */
export function isolated(text) {
  return h("bdi", {}, text);
}

/**
 * Texts from the archive, each isolated, between separators of the page's own.
 * @param {string[]} texts @param {string} [separator]
 * @returns {(Node | string)[]}
 */
export function isolatedList(texts, separator = ", ") {
  return texts.flatMap((t, i) => (i === 0 ? [isolated(t)] : [separator, isolated(t)]));
}

/**
 * The element with this id; the page's markup guarantees it exists.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return /** @type {T} */ (el);
}

/** @param {string | null | undefined} iso */
export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
}

/** @param {string} iso */
export function time(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** @param {string} iso the local calendar day of an instant, as a heading */
export function day(iso) {
  return new Date(iso).toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

/** @param {number} n @param {string} one @param {string} [many] */
export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}
