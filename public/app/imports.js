// @ts-check
// Importing an export: the file goes to POST /api/imports as it is; GET /api/imports/:id is read
// every half second for the progress bar until the import ends, then the summary is shown. While
// it runs, Cancel import asks POST /api/imports/:id/cancel to stop it.
import { call, explain, getJson } from "./api.js";
import { byId, h, isolated, plural } from "./dom.js";

const POLL_MS = 500;

/**
 * @typedef {{ id: string, status: "queued" | "running" | "succeeded" | "failed" | "cancelled",
 *   progress: { messages_parsed: number, messages_stored: number, conversations: string[] },
 *   skipped: { where: string, reason: string }[], skipped_count: number,
 *   errors: { where: string, detail: string }[] }} ImportStatus
 */

/** @param {{ imported: () => void }} deps */
export function setUpImports(deps) {
  const drop = byId("drop");
  const input = /** @type {HTMLInputElement} */ (byId("import-file"));
  const format = /** @type {HTMLSelectElement} */ (byId("import-format"));
  const zone = /** @type {HTMLInputElement} */ (byId("import-timezone"));
  const progress = /** @type {HTMLProgressElement} */ (byId("import-progress"));
  const status = byId("import-status");
  const notes = byId("import-notes");
  const cancel = /** @type {HTMLButtonElement} */ (byId("import-cancel"));
  /** The import being followed, for Cancel import. */
  let running = "";
  cancel.addEventListener("click", async () => {
    if (!running) return;
    cancel.disabled = true;
    status.textContent = "Cancelling…";
    try {
      await call(`/api/imports/${encodeURIComponent(running)}/cancel`, { method: "POST" });
    } catch {
      // An import that ended meanwhile answers 409: following it shows how it ended.
    }
  });
  zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC";
  let busy = false;

  /** @param {File} file */
  const upload = async (file) => {
    if (busy) return;
    busy = true;
    input.disabled = true;
    notes.replaceChildren();
    progress.hidden = false;
    progress.removeAttribute("value");
    status.replaceChildren("Uploading ", isolated(file.name), "…");
    try {
      const params = new URLSearchParams();
      if (format.value) params.set("format", format.value);
      if (zone.value.trim()) params.set("timezone", zone.value.trim());
      const res = await call(`/api/imports${params.size > 0 ? `?${params}` : ""}`, {
        method: "POST",
        body: file,
        headers: { "content-type": file.type || "application/octet-stream" },
      });
      /** @type {{ id: string }} */
      const accepted = await res.json();
      running = accepted.id;
      cancel.disabled = false;
      cancel.hidden = false;
      const final = await follow(accepted.id, (s) => {
        if (!cancel.disabled) show(s);
      });
      summarise(final);
      if (final.progress.messages_stored > 0) deps.imported();
    } catch (err) {
      progress.hidden = true;
      status.textContent = `Import failed: ${explain(err)}`;
    } finally {
      busy = false;
      running = "";
      cancel.hidden = true;
      input.disabled = false;
      input.value = "";
    }
  };

  /** @param {ImportStatus} s */
  const show = (s) => {
    const { messages_parsed: parsed, messages_stored: stored } = s.progress;
    if (s.status === "queued" || parsed === 0) {
      progress.removeAttribute("value");
      status.textContent = s.status === "queued" ? "Queued…" : "Reading the file…";
    } else {
      progress.max = Math.max(parsed, 1);
      progress.value = Math.min(stored, parsed);
      status.textContent = `${stored.toLocaleString()} of ${plural(parsed, "message")} stored…`;
    }
  };

  /** @param {ImportStatus} s */
  const summarise = (s) => {
    const { conversations, messages_stored: stored } = s.progress;
    progress.hidden = s.status !== "succeeded";
    if (s.status === "succeeded") {
      progress.max = 1;
      progress.value = 1;
    }
    const landed = stored > 0 ? ` after storing ${plural(stored, "message")}` : "";
    status.textContent =
      s.status === "succeeded"
        ? `Imported ${plural(stored, "message")} into ${plural(conversations.length, "conversation")}${s.skipped_count > 0 ? `; ${plural(s.skipped_count, "part")} skipped` : ""}.`
        : s.status === "cancelled"
          ? `Import cancelled${landed || "; nothing was stored"}.`
          : `Import failed${landed}.`;
    notes.replaceChildren(
      ...s.errors.map((e) => h("li", { class: "error" }, isolated(e.where), ": ", isolated(e.detail))),
      ...conversations.slice(0, 10).map((c) => h("li", {}, "Conversation ", isolated(c))),
      ...s.skipped.slice(0, 5).map((k) => h("li", { class: "muted" }, "Skipped ", isolated(k.where), ": ", isolated(k.reason))),
    );
  };

  input.addEventListener("change", () => {
    const file = input.files?.[0];
    if (file) void upload(file);
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer?.files[0];
    if (file) void upload(file);
  });
}

/**
 * Polls an import until it ends.
 * @param {string} id @param {(s: ImportStatus) => void} progress
 * @returns {Promise<ImportStatus>}
 */
async function follow(id, progress) {
  for (;;) {
    /** @type {ImportStatus} */
    const s = await getJson(`/api/imports/${encodeURIComponent(id)}`);
    if (s.status === "succeeded" || s.status === "failed" || s.status === "cancelled") return s;
    progress(s);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
