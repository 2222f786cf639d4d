// The secrets tab: the masked table, per-row reveal, and the create/edit/rename/copy/delete/
// history dialogs (also used by the diff matrix's inline edit).

import { $, api, badge, checked, clear, confirmDialog, copyText, dialogOnScreen, errorText, isStale, noDialogSince, fail, h, openDialog, options, state, toast, vaultInfo, when } from "./core.js";

let searchTimer = null;

// A stage can hold thousands of secrets: the table shows one page of PAGE_SIZE rows at a time
// (the list itself is fetched once), so a re-render never builds more than PAGE_SIZE rows.
export const PAGE_SIZE = 100;

let loadSeq = 0;
let listing = Promise.resolve();  // the table's latest listing (a row action waits for it)

export function loadSecrets(options = {}) {
  listing = listSecrets(options);
  return listing;
}

async function listSecrets({ resetPage = false } = {}) {
  clearTimeout(searchTimer);
  const query = { vault: state.vault, stage: state.stage };
  const q = $("#search").value;
  if (q) { query.q = q; query.in = $("#search-in").value; }
  const seq = ++loadSeq;
  const data = await api("GET", "/api/secrets", { query });
  if (seq !== loadSeq) return;  // a newer search (or stage) answered meanwhile: keep its rows
  state.secrets = data.secrets;
  state.supportsRestore = data.supports_restore;
  state.supportsPlain = data.supports_plain;
  state.storesPlain = data.stores_plain;
  if (resetPage) state.page = 0;
  $("#restore-secret").hidden = !state.supportsRestore;
  $("#copy-refs").hidden = !driverCaps(state.vault).references;
  renderSecrets(q);
}

// Switching vault or stage: the old rows go at once (their buttons act on the current vault
// and stage), and the table says what it waits for, then what went wrong if the listing fails.
export function switchContext() {
  state.secrets = [];
  clear($("#secrets-table tbody"));
  $("#pager").hidden = true;
  $("#secret-count").textContent = "";
  // so do the previous vault's buttons: References… follows the driver at once, Restore… waits
  // for the listing to say whether this vault can restore
  $("#copy-refs").hidden = !driverCaps(state.vault).references;
  $("#restore-secret").hidden = true;
  const empty = $("#secrets-empty");
  const where = `${state.vault}:${state.stage}`;
  empty.hidden = false;
  empty.textContent = `Loading ${where}…`;
  const seq = loadSeq + 1;  // the listing loadSecrets starts now
  loadSecrets({ resetPage: true }).catch((err) => {
    if (seq === loadSeq) empty.textContent = `Could not list ${where}: ${errorText(err)}`;
    fail(err);
  });
}

export function renderSecrets(q = $("#search").value) {
  const started = performance.now();
  const n = state.secrets.length;
  const pages = Math.max(1, Math.ceil(n / PAGE_SIZE));
  state.page = Math.min(Math.max(0, state.page || 0), pages - 1);
  const first = state.page * PAGE_SIZE;
  const shown = state.secrets.slice(first, first + PAGE_SIZE);
  const body = $("#secrets-table tbody");
  const rows = document.createDocumentFragment();
  for (const secret of shown) rows.append(secretRow(secret));
  clear(body).append(rows);
  const empty = $("#secrets-empty");
  empty.hidden = n > 0;
  empty.textContent = q ? `No secret in ${state.vault}:${state.stage} matches “${q}”.`
    : `No secrets in ${state.vault}:${state.stage} yet. Create one with “New secret” or use Import.`;
  $("#secret-count").textContent = `${n} secret${n === 1 ? "" : "s"} in ${state.vault}:${state.stage}`;
  const pager = $("#pager");
  pager.hidden = pages <= 1;
  $("#pager-text").textContent = n ? `${first + 1}–${first + shown.length} of ${n}` : "";
  $("#pager-prev").disabled = state.page === 0;
  $("#pager-next").disabled = state.page >= pages - 1;
  // measured by the browser test (5,000 secrets must stay responsive)
  document.body.dataset.renderMs = String(Math.round(performance.now() - started));
}

function closeMenus(except = null) {
  for (const row of document.querySelectorAll("tr.menu-open")) {
    if (row === except) continue;
    row.classList.remove("menu-open");
    const toggle = row.querySelector(".menu-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", "false");
  }
}

export async function copySecretValue(vault, stage, key) {
  // straight to the clipboard: the value is never put into the page
  try {
    const data = await api("GET", "/api/secret", { query: { vault, stage, key } });
    await navigator.clipboard.writeText(data.secret.value);
    toast(`Copied the value of ${key}`);
  } catch (err) {
    if (err instanceof Error && err.name === "NotAllowedError") toast("The browser refused clipboard access", { error: true });
    else fail(err);
  }
}

export function secretRow(secret) {
  const code = h("code", { class: "masked", text: secret.value, title: "Masked value" });
  let revealed = false;
  const copy = h("button", { type: "button", class: "icon", text: "Copy", title: "Copy the value without showing it",
    "aria-label": `Copy ${secret.key}`, onclick: () => copySecretValue(state.vault, state.stage, secret.key) });
  const reveal = h("button", { type: "button", class: "icon", text: "Reveal", title: "Show the value", "aria-label": `Reveal ${secret.key}` });
  reveal.addEventListener("click", async () => {
    if (revealed) {
      code.textContent = secret.value; code.className = "masked"; reveal.textContent = "Reveal"; revealed = false;
      reveal.setAttribute("aria-label", `Reveal ${secret.key}`);
      return;
    }
    try {
      const data = await api("GET", "/api/secret", { query: { vault: state.vault, stage: state.stage, key: secret.key } });
      code.textContent = data.secret.value; code.className = "revealed"; reveal.textContent = "Hide"; revealed = true;
      reveal.setAttribute("aria-label", `Hide ${secret.key}`);
    } catch (err) { fail(err); }
  });
  // a row still on screen while the table reloads after a write (an edit, a rename) is stale: its
  // action waits for the listing and acts on the key as listed now (Delete and Rename send its
  // revision), or not at all if it is gone
  const act = (label, run, extra = "") => h("button", { type: "button", class: "link " + extra, text: label, role: "menuitem",
    onclick: async () => {
      closeMenus();
      const quiet = noDialogSince();
      await listing.catch(() => {});
      const now = state.secrets.find((s) => s.key === secret.key);
      if (now && quiet()) run(now);
    }, "aria-label": `${label} ${secret.key}` });
  const toggle = h("button", { type: "button", class: "icon menu-toggle", text: "⋯", "aria-haspopup": "true", "aria-expanded": "false",
    "aria-label": `Actions for ${secret.key}`, title: "Actions" });
  const row = h("tr", { dataset: { key: secret.key } },
    h("td", { class: "key", text: secret.key, title: secret.key }),
    h("td", { class: "val" }, h("div", { class: "value" }, code, reveal, copy,
      secret.secure ? null : state.storesPlain
        ? h("span", { class: "badge warn", text: "plain", title: "Stored unencrypted (SSM String)" })
        : h("span", { class: "badge", text: "marked plain", title: "Encrypted in this vault; a copy to SSM stores it as a plain String" }))),
    h("td", { class: "rev", text: secret.revision, title: `revision ${secret.revision}` }),
    h("td", { class: "when", text: when(secret.modified) }),
    h("td", { class: "row-actions" }, toggle, h("div", { class: "menu", role: "menu", "aria-label": `Actions for ${secret.key}` },
      act("Edit", (s) => editSecret(state.vault, state.stage, s.key).then((ok) => ok && loadSecrets())),
      act("Rename", (s) => renameSecret(s)),
      act("Copy to…", (s) => copySecret(s)),
      act("History", (s) => showHistory(s.key)),
      act("Delete", (s) => deleteSecret(s), "danger-text"))));
  toggle.addEventListener("click", (event) => {
    event.stopPropagation();
    const open = !row.classList.contains("menu-open");
    closeMenus(row);
    row.classList.toggle("menu-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (open) row.querySelector(".menu button").focus();
  });
  return row;
}

// what the vault's driver declares (vaults/registry.py, served by /api/context)
function driverCaps(vault) {
  const info = vaultInfo(vault);
  const declared = info && (state.ctx.drivers || []).find((d) => d.driver === info.driver);
  return (declared && declared.capabilities) || {};
}

export function secureBox(vault, checkedValue) {
  const caps = driverCaps(vault);
  const plainOk = !!(caps.plain_values || caps.plain_marker);
  return h("label", { class: "inline" }, h("input", { type: "checkbox", name: "secure", checked: checkedValue, disabled: !plainOk }),
    "encrypted (SecureString)" + (plainOk ? "" : " — always encrypted by this vault"));
}

export function valueField(textarea, label = "Value") {
  const generate = h("button", { type: "button", class: "link", text: "Generate random value", onclick: async () => {
    try { textarea.value = (await api("POST", "/api/secret/generate", { body: { length: 32 } })).value; } catch (err) { fail(err); }
  } });
  // the button stays outside the <label>: inside, it would become the label's target
  return h("div", { class: "field" }, h("label", {}, label, textarea), h("div", { class: "field-tools" }, generate));
}

export async function newSecret(vault = state.vault, stage = state.stage, key = "") {
  const keyInput = h("input", { type: "text", name: "key", value: key, placeholder: "DB_PASSWORD", autocomplete: "off", spellcheck: "false" });
  const value = h("textarea", { name: "value", rows: 4, spellcheck: "false", autocomplete: "off" });
  const secure = secureBox(vault, true);
  return openDialog({
    title: `New secret in ${vault}:${stage}`,
    body: [h("label", {}, "Key", keyInput), valueField(value), secure],
    actions: [{
      label: "Create", kind: "primary", submit: true, run: async () => {
        const data = await api("POST", "/api/secret", { body: {
          vault, stage, key: keyInput.value.trim(), value: value.value, secure: $("input", secure).checked } });
        toast(`Created ${data.key} in ${vault}:${stage} (revision ${data.revision})`);
      },
    }],
  });
}

// A 409 from an edit: the secret changed since the editor read it. Both values are shown
// masked; the user reloads (discarding their edit) or overwrites on purpose.
export function conflictPanel(conflict, { onReload, onOverwrite, overwriteLabel = "Overwrite with mine" }) {
  const current = conflict.current;
  const rows = [
    h("dt", { text: current ? `Now (revision ${current.revision})` : "Now" }),
    h("dd", {}, current ? h("code", { text: current.value }) : h("em", { text: "deleted" })),
  ];
  if (conflict.yours !== null && conflict.yours !== undefined) rows.push(h("dt", { text: "Yours" }), h("dd", {}, h("code", { text: conflict.yours })));
  return h("div", { class: "conflict-panel", role: "alert" },
    h("p", { class: "conflict-title", text: `${conflict.key} was changed elsewhere (another tab, a script or the CLI) since you opened it. Nothing was saved.` }),
    h("dl", {}, rows),
    h("div", { class: "actions" },
      h("button", { type: "button", text: "Reload", onclick: onReload }),
      current ? h("button", { type: "button", class: "danger", text: overwriteLabel, onclick: onOverwrite }) : null));
}


export async function goneDialog(vault, stage, key) {
  const again = await openDialog({
    title: `${key} no longer exists`,
    body: h("p", { text: `${key} is not in ${vault}:${stage} any more: it was deleted or renamed elsewhere (another tab, a script or the CLI).` }),
    actions: [{ label: "Create it again…", run: () => true }],
    cancel: "Close",
  });
  if (again) return newSecret(vault, stage, key);
  return true;
}

export async function editSecret(vault, stage, key) {
  const quiet = noDialogSince();
  let current;
  try {
    // the value stays masked until the user asks for it
    current = (await api("GET", "/api/secret", { query: { vault, stage, key, masked: 1 } })).secret;
  } catch (err) {
    if (err.status === 404) return quiet() ? goneDialog(vault, stage, key) : null;
    fail(err); return null;
  }
  if (!quiet()) return null;
  let revision = current.revision;
  let revealed = false;
  const shown = h("code", { class: "masked", text: current.value });
  const value = h("textarea", { name: "value", rows: 5, spellcheck: "false", autocomplete: "off",
    placeholder: "Type the new value, or reveal the current one to edit it" });
  const reveal = h("button", { type: "button", class: "link", text: "Reveal current value", onclick: async () => {
    const ours = dialogOnScreen();
    try {
      const fresh = (await api("GET", "/api/secret", { query: { vault, stage, key } })).secret;
      shown.textContent = fresh.value; shown.className = "revealed";
      if (value.value !== "") {
        // the user typed a new value (before or while it came): theirs stays, and the save still
        // names the revision they started from; emptied, the box is filled by another reveal
        kept.hidden = false;
        return;
      }
      value.value = fresh.value; revision = fresh.revision; revealed = true;
      reveal.hidden = true; kept.hidden = true;
      value.focus();
    } catch (err) {
      // this dialog's promise is left unsettled: the table is reloaded once the gone dialog is done
      if (err.status === 404) { if (ours()) { $("#dialog").close(); goneDialog(vault, stage, key).then(reloadAfterEdit, fail); } } else fail(err);
    }
  } });
  const secure = secureBox(vault, current.secure);
  const note = h("p", { class: "muted small", text: `Editing revision ${revision}; saving creates a new version.` });
  const kept = h("p", { class: "muted small", hidden: true,
    text: "The current value is shown above; the new value you typed was kept, not replaced by it (empty the box and reveal again to edit the current value)." });
  const conflictBox = h("div", {});
  const save = async () => {
    if (!revealed && value.value === "") throw new Error("Type the new value, or reveal the current one to change it");
    const ours = dialogOnScreen();
    try {
      const data = await api("PUT", "/api/secret", { body: { vault, stage, key, value: value.value, secure: $("input", secure).checked, revision } });
      toast(data.changed ? `Saved ${key} (revision ${data.revision})` : `${key} unchanged`);
      return true;
    } catch (err) {
      if (err.status === 404) { if (ours()) { $("#dialog").close(); await goneDialog(vault, stage, key); } return true; }
      if (!isStale(err)) throw err;
      const conflict = err.data.conflict;
      clear(conflictBox).append(conflictPanel(conflict, {
        onReload: () => { $("#dialog").close(); editSecret(vault, stage, key).then(() => reloadAfterEdit()); },
        onOverwrite: async () => {
          revision = conflict.current.revision;
          const ours = dialogOnScreen();
          try { if (await save()) { if (ours()) $("#dialog").close(); reloadAfterEdit(); } } catch (again) { fail(again); }
        },
      }));
      return false;
    }
  };
  return openDialog({
    title: `Edit ${key} in ${vault}:${stage}`,
    body: [h("label", {}, "Key", h("input", { type: "text", value: key, readonly: true, class: "mono" })),
      h("div", { class: "field" }, h("span", { class: "field-label", text: "Current value" }), h("div", { class: "value" }, shown, reveal)),
      valueField(value, "New value"), kept, secure, note, conflictBox],
    actions: [{ label: "Save", kind: "primary", submit: true, run: save }],
  });
}

// after an edit finished from a conflict panel (the dialog's own promise already resolved)
function reloadAfterEdit() {
  if (state.tab === "secrets") loadSecrets().catch(fail);
  else document.dispatchEvent(new CustomEvent("keep:changed"));
}

export async function renameSecret(secret) {
  const input = h("input", { type: "text", name: "new_key", value: secret.key, spellcheck: "false", class: "mono" });
  const overwrite = h("input", { type: "checkbox", name: "overwrite" });
  let revision = secret.revision;
  const conflictBox = h("div", {});
  const run = async () => {
    const ours = dialogOnScreen();
    try {
      const data = await api("POST", "/api/secret/rename", { body: {
        vault: state.vault, stage: state.stage, key: secret.key, new_key: input.value.trim(), overwrite: overwrite.checked, revision } });
      toast(`Renamed ${data.old_key} to ${data.key}`);
      return true;
    } catch (err) {
      if (err.status === 404) {
        if (ours()) { $("#dialog").close(); await goneDialog(state.vault, state.stage, secret.key); }
        loadSecrets().catch(fail); return true;
      }
      if (!isStale(err)) throw err;
      const conflict = err.data.conflict;
      clear(conflictBox).append(conflictPanel(conflict, {
        overwriteLabel: "Rename anyway",
        onReload: () => { $("#dialog").close(); loadSecrets().catch(fail); },
        onOverwrite: async () => {
          revision = conflict.current.revision;
          const ours = dialogOnScreen();
          try { if (await run()) { if (ours()) $("#dialog").close(); loadSecrets().catch(fail); } } catch (again) { fail(again); }
        },
      }));
      return false;
    }
  };
  const ok = await openDialog({
    title: `Rename ${secret.key}`,
    body: [h("label", {}, "New key", input), h("label", { class: "inline" }, overwrite, "replace the new key if it already exists"), conflictBox],
    actions: [{ label: "Rename", kind: "primary", submit: true, run }],
  });
  if (ok) loadSecrets().catch(fail);
}

export async function copySecret(secret) {
  const vault = h("select", { name: "to_vault" });
  const stage = h("select", { name: "to_stage" });
  options(vault, state.ctx.vaults.map((v) => v.slug), state.vault);
  const otherStage = state.ctx.stages.find((s) => s !== state.stage) || state.stage;
  options(stage, state.ctx.stages, otherStage);
  const overwrite = h("input", { type: "checkbox", name: "overwrite" });
  const result = h("p", { class: "muted" });
  const body = () => ({ vault: state.vault, stage: state.stage, key: secret.key, to_vault: vault.value, to_stage: stage.value, overwrite: overwrite.checked });
  await openDialog({
    title: `Copy ${secret.key} from ${state.vault}:${state.stage}`,
    body: [h("div", { class: "form-grid" }, h("label", {}, "To vault", vault), h("label", {}, "To stage", stage)),
      h("label", { class: "inline" }, overwrite, "replace a different existing value"), result],
    actions: [
      { label: "Dry run", run: async () => {
        const data = await api("POST", "/api/secret/copy", { body: { ...body(), dry_run: true } });
        result.textContent = `Dry run: ${data.outcome} (${data.to})`;
        return false;
      } },
      { label: "Copy", kind: "primary", submit: true, run: async () => {
        const data = await api("POST", "/api/secret/copy", { body: body() });
        toast(`${secret.key} → ${data.to}: ${data.outcome}`);
      } },
    ],
  });
}

export async function deleteSecret(secret, revision = secret.revision) {
  const restorable = state.supportsRestore;
  const ok = await confirmDialog(`Delete ${secret.key}?`,
    `Delete ${secret.key} from ${state.vault}:${state.stage}` + (restorable ? "? You can undo this right after." : " for good? This vault cannot restore it."));
  if (!ok) return;
  await doDelete(secret, revision);
}

async function doDelete(secret, revision) {
  const where = { vault: state.vault, stage: state.stage, key: secret.key };
  try {
    const data = await api("DELETE", "/api/secret", { query: { ...where, revision } });
    await loadSecrets();
    toast(`Deleted ${secret.key}`, data.restorable ? { action: { label: "Undo", run: async () => {
      try { await api("POST", "/api/secret/restore", { body: where }); toast(`Restored ${secret.key}`); await loadSecrets(); } catch (err) { fail(err); }
    } } } : {});
  } catch (err) {
    if (err.status === 404) { toast(`${secret.key} was already deleted elsewhere`); loadSecrets().catch(fail); return; }
    if (!isStale(err)) { fail(err); return; }
    const conflict = err.data.conflict;
    const choice = await openDialog({ title: `${secret.key} changed`, body: conflictPanel(conflict, {
      overwriteLabel: "Delete anyway",
      onReload: () => { $("#dialog").close(); loadSecrets().catch(fail); },
      onOverwrite: () => { $("#dialog").close(); doDelete(secret, conflict.current.revision); },
    }), actions: [] });
    if (choice === null) loadSecrets().catch(fail);
  }
}

export async function restoreDialog() {
  const vault = state.vault, stage = state.stage;
  const quiet = noDialogSince();
  let data;
  try { data = await api("GET", "/api/secrets/deleted", { query: { vault, stage } }); } catch (err) { fail(err); return; }
  if (!quiet()) return;
  const restore = async (key, button) => {
    button.disabled = true;
    try {
      await api("POST", "/api/secret/restore", { body: { vault, stage, key } });
      toast(`Restored ${key}`);
      button.closest("li").remove();
      loadSecrets().catch(fail);  // the table behind the dialog shows it again at once
    } catch (err) { button.disabled = false; fail(err); }
  };
  const list = h("ul", { class: "deleted-list" }, data.deleted.map((d) => h("li", {},
    h("span", { class: "mono key-text", text: d.key }), h("span", { class: "muted small", text: d.deleted ? `deleted ${when(d.deleted)}` : "deleted" }),
    h("button", { type: "button", class: "primary", text: "Restore", "aria-label": `Restore ${d.key}`, onclick: (e) => restore(d.key, e.target) }))));
  if (data.complete) {
    await openDialog({
      title: `Restore a deleted secret in ${vault}:${stage}`,
      body: [data.deleted.length ? list : h("p", { class: "muted", text: `No deleted secret can be restored in ${vault}:${stage}.` })],
      actions: [],
      cancel: "Close",
    });
    return;
  }
  // a driver that restores but cannot list its deleted secrets: the key is typed
  const input = h("input", { type: "text", name: "key", placeholder: "DB_PASSWORD", spellcheck: "false", class: "mono" });
  const ok = await openDialog({
    title: `Restore a deleted secret in ${vault}:${stage}`,
    body: [
      h("p", { class: "muted", text: `The ${vault} vault cannot list its deleted secrets.` }),
      h("label", {}, "Key of the deleted secret", input),
    ],
    actions: [{ label: "Restore typed key", kind: "", submit: true, run: async () => {
      const key = input.value.trim();
      if (!key) throw new Error("Type the key to restore");
      await api("POST", "/api/secret/restore", { body: { vault, stage, key } });
      toast(`Restored ${key}`);
    } }],
    cancel: "Close",
  });
  if (ok) loadSecrets().catch(fail);
}

const REF_FORMATS = [
  ["ecs", "ECS task definition secrets"],
  ["cloudformation", "CloudFormation dynamic references"],
  ["external-secrets", "External Secrets Operator manifest"],
  ["json", "JSON (every reference)"],
];

// `keep refs` in the page: where a deployment reads each secret of the stage (ARNs, parameter
// and KV paths), built by the server from listing calls only - no value is read or shown.
export async function refsDialog() {
  const vault = state.vault, stage = state.stage;
  const format = h("select", { name: "format" }, REF_FORMATS.map(([value, label]) => h("option", { value, text: label })));
  const store = h("input", { type: "text", name: "store", placeholder: "aws-secrets", spellcheck: "false", class: "mono" });
  const storeKind = h("select", { name: "store_kind" }, ["SecretStore", "ClusterSecretStore"].map((k) => h("option", { value: k, text: k })));
  const esoFields = h("div", { class: "form-row", hidden: true },
    h("label", {}, "SecretStore name", store), h("label", {}, "Store kind", storeKind));
  const preview = h("pre", { class: "output refs-output", "aria-label": "References" });
  const note = h("p", { class: "muted small", text: "" });
  let text = "", count = 0, seq = 0;
  const load = async () => {
    const fmt = format.value;
    esoFields.hidden = fmt !== "external-secrets";
    text = "";
    const mine = ++seq;  // an earlier listing still under way must not overwrite this choice
    if (fmt === "external-secrets" && !store.value.trim()) {
      preview.textContent = "";
      note.textContent = "Name the SecretStore the ExternalSecret reads from.";
      return;
    }
    note.textContent = "Listing…";
    try {
      const query = { vault, stage, format: fmt, store: fmt === "external-secrets" ? store.value.trim() : "", store_kind: fmt === "external-secrets" ? storeKind.value : "" };
      const data = await api("GET", "/api/refs", { query });
      if (mine !== seq) return;
      text = data.text; count = data.count;
      preview.textContent = text;
      note.textContent = `${count} reference${count === 1 ? "" : "s"} from ${vault}:${stage} (no value was read)` +
        (data.warnings.length ? ` · ${data.warnings.join(" · ")}` : "");
    } catch (err) {
      if (mine !== seq) return;
      preview.textContent = "";
      note.textContent = err.message;
    }
  };
  format.addEventListener("change", () => load());
  store.addEventListener("change", () => load());
  storeKind.addEventListener("change", () => load());
  const done = openDialog({
    title: `References to ${vault}:${stage}`,
    wide: true,
    body: [h("label", {}, "Format", format), esoFields, note, preview],
    actions: [{ label: "Copy to clipboard", kind: "primary", run: async () => {
      if (!text) { await load(); }
      if (!text) throw new Error(note.textContent || "Nothing to copy");
      try { await navigator.clipboard.writeText(text); } catch (err) { throw new Error("Could not copy to the clipboard"); }
      toast(`Copied ${count} reference${count === 1 ? "" : "s"} (${format.value})`);
    } }],
    cancel: "Close",
  });
  await load();
  await done;
}

export async function showHistory(key) {
  const vault = state.vault, stage = state.stage;
  const quiet = noDialogSince();
  let data;
  try { data = await api("GET", "/api/secret/history", { query: { vault, stage, key, limit: 50 } }); } catch (err) { fail(err); return; }
  if (!quiet()) return;
  const rows = data.versions.map((v) => {
    const code = h("code", { class: "masked", text: v.value === null ? "(no value)" : v.value });
    const reveal = h("button", { type: "button", class: "icon", text: "Reveal", disabled: v.value === null });
    reveal.addEventListener("click", async () => {
      try {
        const s = await api("GET", "/api/secret", { query: { vault, stage, key, version: v.version } });
        code.textContent = s.secret.value; code.className = "revealed"; reveal.hidden = true;
      } catch (err) { fail(err); }
    });
    const cell = h("td", { class: "row-actions", "data-label": "" });
    const ask = () => {
      // rolling back writes a new version: it is confirmed in place first
      clear(cell).append(h("span", { class: "confirm-text", text: `Roll back to version ${v.version}?` }),
        h("button", { type: "button", class: "danger", text: "Roll back", "aria-label": `Confirm roll back to ${v.version}`, onclick: async (e) => {
          e.target.disabled = true;
          const ours = dialogOnScreen();
          try {
            const r = await api("POST", "/api/secret/rollback", { body: { vault, stage, key, version: v.version } });
            toast(`Rolled back ${key} to version ${v.version} (now revision ${r.revision})`);
            if (ours()) $("#dialog").close();
            loadSecrets().catch(fail);
          } catch (err) { e.target.disabled = false; fail(err); }
        } }),
        h("button", { type: "button", text: "Cancel", onclick: () => { clear(cell).append(start()); } }));
    };
    const start = () => h("button", { type: "button", class: "link", text: "Roll back to this", onclick: ask });
    cell.append(v.current ? badge("current", "current") : start());
    return h("tr", {}, h("td", { class: "rev", "data-label": "Version", text: v.version }),
      h("td", { "data-label": "Value" }, h("div", { class: "value" }, code, reveal)),
      h("td", { class: "when", "data-label": "Modified", text: when(v.modified) }), h("td", { class: "when", "data-label": "By", text: v.by || "" }),
      h("td", { "data-label": "Labels" }, (v.labels || []).join(", ")), cell);
  });
  const table = h("table", { class: "grid cards", id: "history-table" },
    h("thead", {}, h("tr", {}, ["Version", "Value", "Modified", "By", "Labels", ""].map((t) => h("th", { text: t })))),
    h("tbody", {}, rows));
  await openDialog({ title: `History of ${key} in ${vault}:${stage}`,
    body: rows.length ? h("div", { class: "scroll-x" }, table) : h("p", { text: "No versions." }), actions: [], wide: true });
}

export function wireSecrets() {
  $("#ctx-vault").addEventListener("change", (e) => { state.vault = e.target.value; switchContext(); });
  $("#ctx-stage").addEventListener("change", (e) => { state.stage = e.target.value; switchContext(); });
  $("#search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => loadSecrets({ resetPage: true }).catch(fail), 200); });
  $("#search-in").addEventListener("change", () => {
    $("#search").placeholder = { values: "Search values…", keys: "Search keys…", both: "Search keys and values…" }[$("#search-in").value] + "  (press /)";
    loadSecrets({ resetPage: true }).catch(fail);
  });
  $("#pager-prev").addEventListener("click", () => { state.page -= 1; renderSecrets(); $("#secrets-table").scrollIntoView({ block: "start" }); });
  $("#pager-next").addEventListener("click", () => { state.page += 1; renderSecrets(); $("#secrets-table").scrollIntoView({ block: "start" }); });
  document.addEventListener("click", (event) => { if (!(event.target instanceof Element) || !event.target.closest(".row-actions")) closeMenus(); });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeMenus(); });
  $("#refresh").addEventListener("click", () => loadSecrets().then(() => toast("Reloaded")).catch(fail));
  $("#new-secret").addEventListener("click", async () => { if (await newSecret()) loadSecrets().catch(fail); });
  $("#restore-secret").addEventListener("click", () => restoreDialog().catch(fail));
  $("#copy-refs").addEventListener("click", () => refsDialog().catch(fail));
}
