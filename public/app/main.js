// @ts-check
// The page's start: sign in with an API key, then wire the conversation list, the reader, asking,
// importing and (for admin keys) the admin view together.
import { loadAdmin } from "./admin.js";
import { ApiError, credentials, explain, getJson } from "./api.js";
import { setUpAsking } from "./ask.js";
import { byId, isolated } from "./dom.js";
import { setUpImports } from "./imports.js";
import { setUpLibrary } from "./library.js";
import { setUpReader } from "./reader.js";

const signin = byId("signin");
const workspace = byId("workspace");
const signinError = byId("signin-error");
const keyInput = /** @type {HTMLInputElement} */ (byId("key"));

const reader = setUpReader();
const library = setUpLibrary({ open: (id) => void reader.open(id) });
setUpAsking({ scope: () => reader.current(), show: (id, messageIds) => void reader.open(id, messageIds) });
setUpImports({ imported: () => void library.reload() });
reader.onOpen((id) => {
  const open = /** @type {HTMLInputElement} */ (document.querySelector("input[name=scope][value=open]"));
  open.disabled = id === undefined;
  const label = byId("scope-open");
  if (id === undefined) label.textContent = "the open conversation";
  else label.replaceChildren("this conversation (", isolated(id), ")");
  for (const b of document.querySelectorAll("#conversation-list button")) {
    if (b instanceof HTMLElement) b.setAttribute("aria-current", String(b.dataset.id === id));
  }
});

/**
 * Checks a key (GET /api/me says whose it is); on success shows the workspace.
 * @param {string} key
 */
async function enter(key) {
  signinError.textContent = "";
  /** @type {{ tenant: string, role: "user" | "admin" | "operator" }} */
  let owner;
  try {
    owner = await getJson("/api/me", { key });
  } catch (err) {
    signinError.textContent =
      err instanceof ApiError && (err.status === 401 || err.status === 403)
        ? "This API key was not accepted: check it (npm start prints the local one) and try again."
        : explain(err);
    credentials.clear();
    keyInput.focus();
    return;
  }
  credentials.set(key);
  keyInput.value = "";
  signin.hidden = true;
  workspace.hidden = false;
  byId("views").hidden = false;
  const who = byId("who");
  who.hidden = false;
  who.replaceChildren("Tenant ", isolated(owner.tenant), ` · ${owner.role}`);
  byId("show-admin").hidden = owner.role === "user";
  await library.reload();
  /** @type {HTMLElement} */ (byId("question")).focus();
}

byId("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (key) void enter(key);
});

byId("sign-out").addEventListener("click", () => {
  credentials.clear();
  location.reload();
});

byId("show-admin").addEventListener("click", () => {
  const admin = byId("admin");
  admin.hidden = !admin.hidden;
  if (!admin.hidden) {
    void loadAdmin();
    byId("admin-h").focus();
  }
});

const saved = credentials.get();
if (saved) void enter(saved);
else keyInput.focus();
// The page is usable from here (npm run bench:page reads this mark).
performance.mark("convo-rag:ready");
