// keep web UI: plain JavaScript, no build step. Every value is put into the page with
// textContent (never innerHTML), and values are fetched in full only when revealed.
"use strict";

// ---------------------------------------------------------------------------------------
// helpers

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

class ApiError extends Error {
  constructor(status, message, hint) { super(message); this.status = status; this.hint = hint; }
}

async function api(method, path, { query = null, body = null } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += "?" + qs;
  }
  const init = { method, headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" };
  if (body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    showBanner("The keep server is not reachable. Is `keep server` still running?");
    throw new ApiError(0, "The keep server is not reachable");
  }
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  if (!response.ok) {
    if (response.status === 401) showBanner("Your session has ended. Restart `keep server` and open its new link.");
    const message = (data && data.error) || `HTTP ${response.status}`;
    throw new ApiError(response.status, message, data && data.hint);
  }
  return data;
}

function errorText(err) {
  if (err instanceof ApiError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  return String(err && err.message ? err.message : err);
}

function toast(message, { error = false, action = null, timeout = 5000 } = {}) {
  const box = h("div", { class: "toast" + (error ? " error" : ""), role: error ? "alert" : "status" }, h("span", { text: message }));
  if (action) box.append(h("button", { type: "button", text: action.label, onclick: () => { box.remove(); action.run(); } }));
  $("#toasts").append(box);
  setTimeout(() => box.remove(), action ? timeout * 2 : timeout);
}

function fail(err) { toast(errorText(err), { error: true, timeout: 8000 }); }

function showBanner(text) { const b = $("#banner"); b.textContent = text; b.hidden = false; }

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function badge(text, kind) { return h("span", { class: "badge " + (kind || text).replace(/\s+/g, "-") }, text); }

function options(select, items, selected) {
  clear(select);
  for (const item of items) {
    const [value, label] = Array.isArray(item) ? item : [item, item];
    select.append(h("option", { value, selected: value === selected }, label));
  }
}

function checkboxes(container, names, checked, name) {
  clear(container);
  for (const n of names) {
    container.append(h("label", {}, h("input", { type: "checkbox", name, value: n, checked: checked.includes(n) }), n));
  }
}

function checked(container) { return $$("input[type=checkbox]:checked", container).map((i) => i.value); }

async function withBusy(button, work) {
  const old = button.disabled;
  button.disabled = true;
  try { return await work(); } finally { button.disabled = old; }
}

// ---------------------------------------------------------------------------------------
// dialog: one <dialog>, filled per use; resolves with the clicked action's result

function openDialog({ title, body, actions, wide = false }) {
  const dialog = $("#dialog");
  dialog.classList.toggle("wide", wide);
  $("#dialog-title").textContent = title;
  clear($("#dialog-body")).append(...[].concat(body));
  const bar = clear($("#dialog-actions"));
  const error = h("p", { class: "error", role: "alert", hidden: true });
  $("#dialog-body").append(error);
  return new Promise((resolve) => {
    const close = (value) => { dialog.close(); resolve(value); };
    bar.append(h("button", { type: "button", text: (actions || []).length ? "Cancel" : "Close", onclick: () => close(null) }));
    for (const action of actions || []) {
      const button = h("button", { type: action.submit ? "submit" : "button", class: action.kind || "", text: action.label });
      button.addEventListener("click", async (event) => {
        event.preventDefault();
        error.hidden = true;
        try {
          const result = await withBusy(button, () => action.run());
          if (result !== false) close(result === undefined ? true : result);
        } catch (err) {
          error.textContent = errorText(err);
          error.hidden = false;
        }
      });
      bar.append(button);
    }
    dialog.onclose = () => resolve(null);
    dialog.showModal();
    const first = $("input:not([readonly]):not([type=checkbox]), textarea, select", $("#dialog-body"));
    if (first) first.focus();
  });
}

async function confirmDialog(title, text, label = "Delete") {
  return openDialog({ title, body: h("p", { text }), actions: [{ label, kind: "danger", run: () => true }] });
}

// ---------------------------------------------------------------------------------------
// state

const state = {
  ctx: null,          // /api/context
  vault: null,
  stage: null,
  secrets: [],
  supportsRestore: false,
  supportsPlain: false,
  tab: "secrets",
};

function vaultInfo(slug) { return (state.ctx.vaults || []).find((v) => v.slug === slug); }

async function loadContext() {
  state.ctx = await api("GET", "/api/context");
  const ctx = state.ctx;
  $("#project-name").textContent = `${ctx.app_name} · ${ctx.namespace}`;
  document.title = `keep · ${ctx.app_name}`;
  const vaults = ctx.visible_vaults.length ? ctx.visible_vaults : ctx.vaults.map((v) => v.slug);
  if (!vaults.includes(state.vault)) state.vault = vaults.includes(ctx.default_vault) ? ctx.default_vault : vaults[0];
  const stages = ctx.visible_stages;
  if (!stages.includes(state.stage)) state.stage = stages[0];
  options($("#ctx-vault"), vaults.map((s) => [s, `${s} (${vaultInfo(s).driver})`]), state.vault);
  options($("#ctx-stage"), stages, state.stage);
}

// ---------------------------------------------------------------------------------------
// secrets tab

let searchTimer = null;

async function loadSecrets() {
  const query = { vault: state.vault, stage: state.stage };
  const q = $("#search").value;
  if (q) { query.q = q; query.in = $("#search-in").value; }
  const data = await api("GET", "/api/secrets", { query });
  state.secrets = data.secrets;
  state.supportsRestore = data.supports_restore;
  state.supportsPlain = data.supports_plain;
  $("#restore-secret").hidden = !state.supportsRestore;
  renderSecrets(q);
}

function renderSecrets(q) {
  const body = clear($("#secrets-table tbody"));
  for (const secret of state.secrets) body.append(secretRow(secret));
  const empty = $("#secrets-empty");
  empty.hidden = state.secrets.length > 0;
  empty.textContent = q ? `No secret in ${state.vault}:${state.stage} matches “${q}”.`
    : `No secrets in ${state.vault}:${state.stage} yet. Create one with “New secret” or use Import.`;
  const n = state.secrets.length;
  $("#secret-count").textContent = `${n} secret${n === 1 ? "" : "s"} in ${state.vault}:${state.stage}`;
}

function secretRow(secret) {
  const code = h("code", { class: "masked", text: secret.value, title: "Masked value" });
  let revealed = false;
  const copy = h("button", { type: "button", class: "icon", text: "Copy", hidden: true, title: "Copy the value" });
  const reveal = h("button", { type: "button", class: "icon", text: "Reveal", title: "Show the value", "aria-label": `Reveal ${secret.key}` });
  reveal.addEventListener("click", async () => {
    if (revealed) {
      code.textContent = secret.value; code.className = "masked"; reveal.textContent = "Reveal"; copy.hidden = true; revealed = false;
      reveal.setAttribute("aria-label", `Reveal ${secret.key}`);
      return;
    }
    try {
      const data = await api("GET", "/api/secret", { query: { vault: state.vault, stage: state.stage, key: secret.key } });
      code.textContent = data.secret.value; code.className = "revealed"; reveal.textContent = "Hide"; copy.hidden = false; revealed = true;
      reveal.setAttribute("aria-label", `Hide ${secret.key}`);
      copy.onclick = () => copyText(data.secret.value);
    } catch (err) { fail(err); }
  });
  const act = (label, run, extra = "") => h("button", { type: "button", class: "link " + extra, text: label, onclick: run, "aria-label": `${label} ${secret.key}` });
  return h("tr", { dataset: { key: secret.key } },
    h("td", { class: "key", text: secret.key }),
    h("td", {}, h("div", { class: "value" }, code, reveal, copy,
      secret.secure ? null : h("span", { class: "badge warn", text: "plain", title: "Stored unencrypted (SSM String)" }))),
    h("td", { class: "rev", text: secret.revision }),
    h("td", { class: "when", text: when(secret.modified) }),
    h("td", { class: "row-actions" },
      act("Edit", () => editSecret(state.vault, state.stage, secret.key).then((ok) => ok && loadSecrets())),
      act("Rename", () => renameSecret(secret)),
      act("Copy to…", () => copySecret(secret)),
      act("History", () => showHistory(secret.key)),
      act("Delete", () => deleteSecret(secret), "danger-text")));
}

async function copyText(text) {
  try { await navigator.clipboard.writeText(text); toast("Copied to the clipboard"); } catch (err) { toast("Could not copy", { error: true }); }
}

function secureBox(vault, checkedValue) {
  const info = vaultInfo(vault);
  const plainOk = info && info.driver !== "secretsmanager";
  return h("label", { class: "inline" }, h("input", { type: "checkbox", name: "secure", checked: checkedValue, disabled: !plainOk }),
    "encrypted (SecureString)" + (plainOk ? "" : " — always encrypted by this vault"));
}

function valueField(textarea) {
  const generate = h("button", { type: "button", class: "link", text: "Generate random value", onclick: async () => {
    try { textarea.value = (await api("POST", "/api/secret/generate", { body: { length: 32 } })).value; } catch (err) { fail(err); }
  } });
  // the button stays outside the <label>: inside, it would become the label's target
  return h("div", { class: "field" }, h("label", {}, "Value", textarea), h("div", { class: "field-tools" }, generate));
}

async function newSecret(vault = state.vault, stage = state.stage, key = "") {
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

async function editSecret(vault, stage, key) {
  let current;
  try {
    current = (await api("GET", "/api/secret", { query: { vault, stage, key } })).secret;
  } catch (err) {
    if (err.status === 404) return newSecret(vault, stage, key);
    fail(err); return null;
  }
  const value = h("textarea", { name: "value", rows: 5, spellcheck: "false", autocomplete: "off" });
  value.value = current.value;
  const secure = secureBox(vault, current.secure);
  return openDialog({
    title: `Edit ${key} in ${vault}:${stage}`,
    body: [h("label", {}, "Key", h("input", { type: "text", value: key, readonly: true })), valueField(value), secure,
      h("p", { class: "muted small", text: `Current revision ${current.revision}; saving creates a new version.` })],
    actions: [{
      label: "Save", kind: "primary", submit: true, run: async () => {
        const data = await api("PUT", "/api/secret", { body: { vault, stage, key, value: value.value, secure: $("input", secure).checked } });
        toast(data.changed ? `Saved ${key} (revision ${data.revision})` : `${key} unchanged`);
      },
    }],
  });
}

async function renameSecret(secret) {
  const input = h("input", { type: "text", name: "new_key", value: secret.key, spellcheck: "false" });
  const overwrite = h("input", { type: "checkbox", name: "overwrite" });
  const ok = await openDialog({
    title: `Rename ${secret.key}`,
    body: [h("label", {}, "New key", input), h("label", { class: "inline" }, overwrite, "replace the new key if it already exists")],
    actions: [{
      label: "Rename", kind: "primary", submit: true, run: async () => {
        const data = await api("POST", "/api/secret/rename", { body: {
          vault: state.vault, stage: state.stage, key: secret.key, new_key: input.value.trim(), overwrite: overwrite.checked } });
        toast(`Renamed ${data.old_key} to ${data.key}`);
      },
    }],
  });
  if (ok) loadSecrets().catch(fail);
}

async function copySecret(secret) {
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

async function deleteSecret(secret) {
  const restorable = state.supportsRestore;
  const ok = await confirmDialog(`Delete ${secret.key}?`,
    `Delete ${secret.key} from ${state.vault}:${state.stage}` + (restorable ? "? You can undo this right after." : " for good? This vault cannot restore it."));
  if (!ok) return;
  const where = { vault: state.vault, stage: state.stage, key: secret.key };
  try {
    const data = await api("DELETE", "/api/secret", { query: where });
    await loadSecrets();
    toast(`Deleted ${secret.key}`, data.restorable ? { action: { label: "Undo", run: async () => {
      try { await api("POST", "/api/secret/restore", { body: where }); toast(`Restored ${secret.key}`); await loadSecrets(); } catch (err) { fail(err); }
    } } } : {});
  } catch (err) { fail(err); }
}

async function restoreDialog() {
  const input = h("input", { type: "text", name: "key", placeholder: "DB_PASSWORD", spellcheck: "false" });
  const ok = await openDialog({
    title: `Restore a deleted secret in ${state.vault}:${state.stage}`,
    body: [h("label", {}, "Key", input)],
    actions: [{ label: "Restore", kind: "primary", submit: true, run: async () => {
      await api("POST", "/api/secret/restore", { body: { vault: state.vault, stage: state.stage, key: input.value.trim() } });
      toast(`Restored ${input.value.trim()}`);
    } }],
  });
  if (ok) loadSecrets().catch(fail);
}

async function showHistory(key) {
  const vault = state.vault, stage = state.stage;
  let data;
  try { data = await api("GET", "/api/secret/history", { query: { vault, stage, key, limit: 50 } }); } catch (err) { fail(err); return; }
  const rows = data.versions.map((v) => {
    const code = h("code", { class: "masked", text: v.value === null ? "(no value)" : v.value });
    const reveal = h("button", { type: "button", class: "icon", text: "Reveal", disabled: v.value === null });
    reveal.addEventListener("click", async () => {
      try {
        const s = await api("GET", "/api/secret", { query: { vault, stage, key, version: v.version } });
        code.textContent = s.secret.value; code.className = "revealed"; reveal.hidden = true;
      } catch (err) { fail(err); }
    });
    const rollback = v.current ? badge("current", "current") : h("button", { type: "button", class: "link", text: "Roll back to this",
      onclick: async () => {
        try {
          const r = await api("POST", "/api/secret/rollback", { body: { vault, stage, key, version: v.version } });
          toast(`Rolled back ${key} to version ${v.version} (now revision ${r.revision})`);
          $("#dialog").close();
          loadSecrets().catch(fail);
        } catch (err) { fail(err); }
      } });
    return h("tr", {}, h("td", { class: "rev", text: v.version }), h("td", {}, h("div", { class: "value" }, code, reveal)),
      h("td", { class: "when", text: when(v.modified) }), h("td", { class: "when", text: v.by || "" }),
      h("td", {}, (v.labels || []).join(", ")), h("td", { class: "row-actions" }, rollback));
  });
  const table = h("table", { class: "grid", id: "history-table" },
    h("thead", {}, h("tr", {}, ["Version", "Value", "Modified", "By", "Labels", ""].map((t) => h("th", { text: t })))),
    h("tbody", {}, rows));
  await openDialog({ title: `History of ${key} in ${vault}:${stage}`, body: rows.length ? table : h("p", { text: "No versions." }), actions: [], wide: true });
}

// ---------------------------------------------------------------------------------------
// diff tab

function setupDiff() {
  checkboxes($("#diff-vaults"), state.ctx.vaults.map((v) => v.slug), state.ctx.visible_vaults, "diff-vault");
  checkboxes($("#diff-stages"), state.ctx.stages, state.ctx.visible_stages, "diff-stage");
}

let lastDiff = null;

async function runDiff() {
  const data = await api("GET", "/api/diff", { query: {
    vaults: checked($("#diff-vaults")).join(","), stages: checked($("#diff-stages")).join(","),
    only: $("#diff-only").value.trim(), except: $("#diff-except").value.trim() } });
  lastDiff = data;
  renderDiff();
}

function renderDiff() {
  const data = lastDiff;
  if (!data) return;
  const summary = clear($("#diff-summary"));
  for (const [status, n] of Object.entries(data.counts)) summary.append(badge(`${n} ${status}`, status));
  const head = clear($("#diff-table thead"));
  head.append(h("tr", {}, h("th", { text: "Key" }), h("th", { text: "Status" }), data.columns.map((c) => h("th", { text: c }))));
  const body = clear($("#diff-table tbody"));
  const onlyChanged = $("#diff-show").value === "changed";
  const rows = data.rows.filter((r) => !onlyChanged || r.status !== "identical");
  for (const row of rows) {
    const cells = data.cells.map((cell) => {
      const value = row.values[cell.label];
      const td = h("td", { class: "cell" + (value === null ? " missing" : ""), title: `Edit ${row.key} in ${cell.label}`,
        dataset: { cell: cell.label }, text: value === null ? "missing" : value });
      td.addEventListener("click", async () => {
        const ok = value === null ? await newSecret(cell.vault, cell.stage, row.key) : await editSecret(cell.vault, cell.stage, row.key);
        if (ok) runDiff().catch(fail);
      });
      return td;
    });
    body.append(h("tr", { class: row.status, dataset: { key: row.key } }, h("td", { class: "key", text: row.key }), h("td", {}, badge(row.status)), cells));
  }
  const empty = $("#diff-empty");
  empty.hidden = rows.length > 0;
  empty.textContent = data.rows.length ? "Every key is identical in the chosen columns." : "No secrets in the chosen vaults and stages.";
}

// ---------------------------------------------------------------------------------------
// import tab

function importBody(extra = {}) {
  return {
    vault: $("#import-vault").value, stage: $("#import-stage").value, content: $("#import-content").value,
    filename: $("#import-file").files[0] ? $("#import-file").files[0].name : "",
    mode: $("input[name=import-mode]:checked").value, only: $("#import-only").value.trim(), except: $("#import-except").value.trim(),
    ...extra,
  };
}

function renderImport(data, applied) {
  $("#import-result").hidden = false;
  const summary = clear($("#import-summary"));
  if (applied) {
    summary.append(badge(data.dry_run ? `dry run: ${data.summary}` : data.summary, data.ok ? "ok" : data.dry_run ? "warn" : "bad"));
  } else {
    for (const [action, n] of Object.entries(data.counts)) summary.append(badge(`${n} ${action}`, action));
    if (!data.items.length) summary.append(badge("no keys selected", "warn"));
  }
  for (const [key, lines] of Object.entries(data.duplicates || {})) {
    summary.append(badge(`${key} defined ${lines.length}× (the last one wins)`, "warn"));
  }
  const body = clear($("#import-table tbody"));
  for (const item of data.items) {
    body.append(h("tr", { dataset: { key: item.key } },
      h("td", { class: "key", text: item.key }),
      h("td", {}, badge(item.action), item.reason ? h("span", { class: "muted small", text: " " + item.reason }) : null),
      h("td", {}, item.value === null ? "" : h("code", { text: item.value })),
      h("td", {}, item.existing === null ? h("span", { class: "muted", text: "—" }) : h("code", { text: item.existing })),
      h("td", {}, item.outcome ? badge(item.outcome) : "")));
  }
  const conflicts = data.items.filter((i) => i.action === "conflict").length;
  $("#import-dry").disabled = false;
  $("#import-apply").disabled = applied && !data.dry_run ? true : (conflicts > 0 && importBody().mode === "fail");
  $("#import-apply").title = conflicts ? "Choose overwrite or keep existing to import despite conflicts" : "";
}

async function previewImport() {
  renderImport(await api("POST", "/api/import/preview", { body: importBody() }), false);
}

async function applyImport(dryRun) {
  const data = await api("POST", "/api/import/apply", { body: importBody({ dry_run: dryRun }) });
  renderImport(data, true);
  if (!dryRun) {
    toast(`Import into ${data.target}: ${data.summary}`, { error: !data.ok });
    if (data.target === `${state.vault}:${state.stage}`) loadSecrets().catch(fail);
  }
}

function resetImportButtons() { $("#import-dry").disabled = true; $("#import-apply").disabled = true; }

// ---------------------------------------------------------------------------------------
// export tab

async function setupExport() {
  checkboxes($("#export-vaults"), state.ctx.vaults.map((v) => v.slug), [state.vault], "export-vault");
  options($("#export-stage"), state.ctx.stages, state.stage);
  const formats = (await api("GET", "/api/export/formats")).formats;
  options($("#export-format"), formats, $("#export-format").value || "env");
  const templates = (await api("GET", "/api/templates")).templates;
  const select = $("#export-template");
  const keep = select.value;
  options(select, [["", "none: every secret"], ...templates.map((t) => [t.name, t.name])], keep);
}

function exportBody(reveal) {
  return {
    vaults: checked($("#export-vaults")).join(","), stage: $("#export-stage").value, format: $("#export-format").value,
    template: $("#export-template").value || null, missing: $("#export-missing").value, all: $("#export-all").checked,
    only: $("#export-only").value.trim(), except: $("#export-except").value.trim(), reveal,
  };
}

let exported = null;

async function runExport(reveal) {
  const data = await api("POST", "/api/export", { body: exportBody(reveal) });
  exported = data;
  const summary = clear($("#export-summary"));
  summary.append(badge(`${data.count} entr${data.count === 1 ? "y" : "ies"}`, "ok"), badge(data.masked ? "values masked" : "real values", data.masked ? "" : "warn"));
  for (const w of data.warnings || []) summary.append(badge(w, "warn"));
  const out = $("#export-output");
  out.hidden = false;
  out.textContent = data.content === null ? "Template output is only shown with “Reveal values”." : data.content;
  return data;
}

async function downloadExport() {
  const data = await runExport(true);
  const ext = { env: "env", shell: "sh", json: "json", yaml: "yaml", csv: "csv", docker: "env" }[data.format] || "txt";
  const blob = new Blob([data.content], { type: "text/plain" });
  const link = h("a", { href: URL.createObjectURL(blob), download: `${data.stage}.${ext}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// ---------------------------------------------------------------------------------------
// templates tab

let currentTemplate = null;

async function loadTemplates(select = null) {
  const data = await api("GET", "/api/templates");
  $("#template-dir").textContent = `${data.directory}/`;
  const list = clear($("#template-list"));
  for (const t of data.templates) {
    list.append(h("li", {}, h("button", { type: "button", class: t.name === currentTemplate ? "active" : "", dataset: { name: t.name },
      onclick: () => openTemplate(t.name).catch(fail) }, h("span", { class: "mono", text: t.name }), h("span", { class: "muted small", text: `${t.size} B` }))));
  }
  if (!data.templates.length) list.append(h("li", { class: "muted small", text: "No templates yet." }));
  options($("#template-stage"), [["", "syntax only"], ...state.ctx.stages.map((s) => [s, s])], $("#template-stage").value);
  if (select) await openTemplate(select);
}

async function openTemplate(name) {
  const data = await api("GET", "/api/template", { query: { name } });
  currentTemplate = name;
  $("#template-name").value = name;
  $("#template-editor").value = data.content;
  const stem = name.replace(/\.env$/, "");
  if (state.ctx.stages.includes(stem)) $("#template-stage").value = stem;
  clear($("#template-report"));
  $("#template-output").hidden = true;
  $$("#template-list button").forEach((b) => b.classList.toggle("active", b.dataset.name === name));
}

function renderReport(data) {
  const box = clear($("#template-report"));
  box.className = "report";
  box.append(h("div", { class: "summary" }, badge(data.valid ? "valid" : `${data.problems.length} problem(s)`, data.valid ? "ok" : "bad"),
    badge(`${data.placeholders} placeholder(s)`, "")));
  const list = h("ul");
  for (const p of data.problems) list.append(h("li", { class: "problem", text: p }));
  for (const w of data.warnings) list.append(h("li", { class: "warning", text: w }));
  for (const n of data.notes) list.append(h("li", { class: "note", text: n }));
  if (list.childNodes.length) box.append(list);
}

async function generateTemplate() {
  const stage = h("select", { name: "stage" });
  options(stage, state.ctx.stages, state.stage);
  const vaults = h("div", { class: "checks" });
  checkboxes(vaults, state.ctx.vaults.map((v) => v.slug), state.ctx.visible_vaults, "gen-vault");
  await openDialog({
    title: "Generate a template from a stage",
    body: [h("label", {}, "Stage", stage), h("fieldset", {}, h("legend", { text: "Vaults" }), vaults)],
    actions: [{ label: "Generate", kind: "primary", submit: true, run: async () => {
      const data = await api("POST", "/api/template/generate", { body: { stage: stage.value, vaults: checked(vaults) } });
      currentTemplate = null;
      $("#template-name").value = data.name;
      $("#template-editor").value = data.content;
      $("#template-stage").value = stage.value;
      toast(`Generated ${data.placeholders} placeholder(s); review and Save`);
    } }],
  });
}

// ---------------------------------------------------------------------------------------
// settings tab

function renderSettings() {
  const ctx = state.ctx;
  $("#set-app-name").value = ctx.app_name;
  $("#set-namespace").value = ctx.namespace;
  $("#set-template-path").value = ctx.template_path;
  options($("#set-default-vault"), ctx.vaults.map((v) => v.slug), ctx.default_vault);
  const chips = clear($("#stage-list"));
  for (const stage of ctx.stages) {
    const system = ctx.system_stages.includes(stage);
    chips.append(h("li", { class: system ? "system" : "", title: system ? "system stage" : "" }, stage,
      system ? null : h("button", { type: "button", class: "icon", text: "✕", "aria-label": `Remove stage ${stage}`, onclick: () => removeStage(stage) })));
  }
  const body = clear($("#vault-table tbody"));
  for (const v of ctx.vaults) {
    const details = [v.options.region, v.scope && `scope ${v.scope}`, v.options.tier, v.options.endpoint_url, v.options.path].filter(Boolean).join(" · ");
    body.append(h("tr", { dataset: { slug: v.slug } },
      h("td", { class: "key", text: v.slug }), h("td", {}, v.name, v.default ? " " : null, v.default ? badge("default", "current") : null),
      h("td", { text: v.driver_label }), h("td", { class: "muted small", text: details }),
      h("td", { class: "row-actions" },
        h("button", { type: "button", class: "link", text: "Edit", onclick: () => vaultDialog(v) }),
        v.default ? null : h("button", { type: "button", class: "link", text: "Make default", onclick: () => saveSettings({ default_vault: v.slug }) }),
        v.default ? null : h("button", { type: "button", class: "link danger-text", text: "Delete", onclick: () => deleteVault(v.slug) }))));
  }
  checkboxes($("#ws-vaults"), ctx.vaults.map((v) => v.slug), ctx.visible_vaults, "ws-vault");
  checkboxes($("#ws-stages"), ctx.stages, ctx.visible_stages, "ws-stage");
}

async function refreshAll() {
  await loadContext();
  renderSettings();
  setupDiff();
}

async function saveSettings(body) {
  try {
    await api("PUT", "/api/settings", { body });
    await refreshAll();
    toast("Settings saved");
  } catch (err) { fail(err); }
}

async function removeStage(stage) {
  if (!(await confirmDialog(`Remove stage ${stage}?`, `Remove ${stage} from the project's stages? Secrets stored under it are not deleted.`, "Remove"))) return;
  try { await api("DELETE", "/api/stages", { query: { name: stage } }); await refreshAll(); toast(`Removed stage ${stage}`); } catch (err) { fail(err); }
}

async function deleteVault(slug) {
  if (!(await confirmDialog(`Remove vault ${slug}?`, `Remove the configuration of vault ${slug}? Its secrets are not touched.`, "Remove"))) return;
  try { await api("DELETE", "/api/vaults", { query: { slug } }); await refreshAll(); toast(`Removed vault ${slug}`); } catch (err) { fail(err); }
}

async function vaultDialog(existing = null) {
  const driver = h("select", { name: "driver", disabled: !!existing });
  options(driver, state.ctx.drivers.map((d) => [d.driver, d.label]), existing ? existing.driver : "local");
  const field = (name, label, value = "", placeholder = "") => {
    const input = h("input", { type: "text", name, value: value || "", placeholder });
    return [input, h("label", { dataset: { field: name } }, label, input)];
  };
  const opts = existing ? existing.options : {};
  const [slug, slugLabel] = field("slug", "Slug", existing && existing.slug, "ssm");
  const [name, nameLabel] = field("name", "Friendly name", existing && existing.name, "AWS SSM");
  const [region, regionLabel] = field("region", "AWS region", opts.region, "us-east-1");
  const [key, keyLabel] = field("key", "KMS key (optional)", opts.key, "alias/my-key");
  const [scope, scopeLabel] = field("scope", "Scope (optional)", existing && existing.scope, "team-a");
  const [endpoint, endpointLabel] = field("endpoint_url", "Endpoint URL (optional)", opts.endpoint_url, "http://localhost:4566");
  const [profile, profileLabel] = field("profile", "AWS profile (optional)", opts.profile, "");
  const [tier, tierLabel] = field("tier", "SSM tier", opts.tier, "Standard");
  const [replicas, replicasLabel] = field("replica_regions", "Replica regions", (opts.replica_regions || []).join(","), "eu-west-1");
  const makeDefault = h("input", { type: "checkbox", name: "default", checked: existing && existing.default });
  const awsOnly = [regionLabel, keyLabel, scopeLabel, endpointLabel, profileLabel];
  const sync = () => {
    const d = driver.value;
    for (const el of awsOnly) el.hidden = d === "local";
    tierLabel.hidden = d !== "ssm";
    replicasLabel.hidden = d !== "secretsmanager";
    slug.placeholder = d;
    name.placeholder = (state.ctx.drivers.find((x) => x.driver === d) || {}).label || "";
  };
  driver.addEventListener("change", sync);
  sync();
  await openDialog({
    title: existing ? `Edit vault ${existing.slug}` : "Add a vault",
    body: [h("div", { class: "form-grid" }, h("label", {}, "Driver", driver), slugLabel, nameLabel, ...awsOnly, tierLabel, replicasLabel),
      h("label", { class: "inline" }, makeDefault, "default vault")],
    actions: [{ label: existing ? "Save" : "Add vault", kind: "primary", submit: true, run: async () => {
      const body = { name: name.value.trim(), default: makeDefault.checked };
      if (driver.value !== "local") Object.assign(body, { region: region.value.trim(), key: key.value.trim(), scope: scope.value.trim(),
        endpoint_url: endpoint.value.trim(), profile: profile.value.trim() });
      if (driver.value === "ssm") body.tier = tier.value.trim();
      if (driver.value === "secretsmanager") body.replica_regions = replicas.value.trim();
      if (existing) {
        Object.assign(body, { slug: existing.slug, new_slug: slug.value.trim() });
        const data = await api("PUT", "/api/vaults", { body });
        for (const note of data.notes) toast(note);
      } else {
        Object.assign(body, { driver: driver.value, slug: slug.value.trim() });
        await api("POST", "/api/vaults", { body });
      }
      await refreshAll();
      toast(existing ? "Vault saved" : "Vault added");
    } }],
  });
}

async function runVerify() {
  const data = await api("POST", "/api/verify", { body: {} });
  const box = clear($("#verify-result"));
  const mark = (v) => v === true ? badge("✓", "ok") : v === false ? badge("✗", "bad") : h("span", { class: "muted", text: "–" });
  const table = h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, h("th", { text: "Vault" }), h("th", { text: "Stage" }), data.steps.map((s) => h("th", { text: s })))),
    h("tbody", {}, data.results.map((r) => h("tr", { title: Object.values(r.errors || {}).join("\n") },
      h("td", { class: "key", text: r.vault }), h("td", { text: r.stage }), data.steps.map((s) => h("td", {}, mark(r[s])))))));
  box.append(h("div", { class: "summary" }, badge(data.ok ? "all permissions present" : "missing permissions", data.ok ? "ok" : "bad")), table);
  for (const r of data.results) for (const [step, message] of Object.entries(r.errors || {})) {
    box.append(h("p", { class: "muted small", text: `${r.vault}:${r.stage} ${step}: ${message}` }));
  }
}

// ---------------------------------------------------------------------------------------
// tabs and wiring

const TAB_LOADERS = {
  secrets: () => loadSecrets(),
  diff: () => (lastDiff ? Promise.resolve() : runDiff()),
  import: () => { options($("#import-vault"), state.ctx.vaults.map((v) => v.slug), $("#import-vault").value || state.vault);
    options($("#import-stage"), state.ctx.stages, $("#import-stage").value || state.stage); return Promise.resolve(); },
  export: () => setupExport(),
  templates: () => loadTemplates(),
  settings: () => { renderSettings(); return Promise.resolve(); },
};

function showTab(name) {
  state.tab = name;
  for (const button of $$(".tabs button")) button.setAttribute("aria-selected", String(button.dataset.tab === name));
  for (const section of $$(".tab")) section.hidden = section.id !== `tab-${name}`;
  $("#where").classList.toggle("disabled", name !== "secrets");
  TAB_LOADERS[name]().catch(fail);
}

function wire() {
  // "/" jumps to the search box, as in most list UIs
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
    if ($("#dialog").open) return;
    event.preventDefault();
    if (state.tab !== "secrets") showTab("secrets");
    $("#search").focus();
  });
  for (const button of $$(".tabs button")) button.addEventListener("click", () => showTab(button.dataset.tab));
  $("#ctx-vault").addEventListener("change", (e) => { state.vault = e.target.value; loadSecrets().catch(fail); });
  $("#ctx-stage").addEventListener("change", (e) => { state.stage = e.target.value; loadSecrets().catch(fail); });
  $("#search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => loadSecrets().catch(fail), 200); });
  $("#search-in").addEventListener("change", () => {
    $("#search").placeholder = { values: "Search values…", keys: "Search keys…", both: "Search keys and values…" }[$("#search-in").value] + "  (press /)";
    loadSecrets().catch(fail);
  });
  $("#refresh").addEventListener("click", () => loadSecrets().then(() => toast("Reloaded")).catch(fail));
  $("#new-secret").addEventListener("click", async () => { if (await newSecret()) loadSecrets().catch(fail); });
  $("#restore-secret").addEventListener("click", () => restoreDialog().catch(fail));

  $("#diff-run").addEventListener("click", (e) => withBusy(e.target, runDiff).catch(fail));
  $("#diff-show").addEventListener("change", renderDiff);

  $("#import-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    if (file.size > 1024 * 1024) { toast("That file is larger than 1 MB", { error: true }); return; }
    $("#import-content").value = await file.text();
    resetImportButtons();
  });
  $("#import-content").addEventListener("input", resetImportButtons);
  for (const el of $$("#tab-import select, #tab-import input[type=radio], #import-only, #import-except")) el.addEventListener("change", resetImportButtons);
  $("#import-preview").addEventListener("click", (e) => withBusy(e.target, previewImport).catch(fail));
  $("#import-dry").addEventListener("click", (e) => withBusy(e.target, () => applyImport(true)).catch(fail));
  $("#import-apply").addEventListener("click", (e) => withBusy(e.target, () => applyImport(false)).catch(fail));

  $("#export-preview").addEventListener("click", (e) => withBusy(e.target, () => runExport(false)).catch(fail));
  $("#export-reveal").addEventListener("click", (e) => withBusy(e.target, () => runExport(true)).catch(fail));
  $("#export-download").addEventListener("click", (e) => withBusy(e.target, downloadExport).catch(fail));
  $("#export-copy").addEventListener("click", async () => {
    try { const data = exported && !exported.masked ? exported : await runExport(true); await copyText(data.content); } catch (err) { fail(err); }
  });

  $("#template-new").addEventListener("click", () => {
    currentTemplate = null; $("#template-name").value = ""; $("#template-editor").value = ""; clear($("#template-report"));
    $("#template-output").hidden = true; $("#template-name").focus();
  });
  $("#template-generate").addEventListener("click", () => generateTemplate().catch(fail));
  $("#template-save").addEventListener("click", async () => {
    const name = $("#template-name").value.trim();
    try {
      await api("PUT", "/api/template", { body: { name, content: $("#template-editor").value } });
      currentTemplate = name; toast(`Saved ${name}`); await loadTemplates();
    } catch (err) { fail(err); }
  });
  $("#template-validate").addEventListener("click", async (e) => {
    try {
      renderReport(await withBusy(e.target, () => api("POST", "/api/template/validate", { body: {
        content: $("#template-editor").value, stage: $("#template-stage").value || null } })));
    } catch (err) { fail(err); }
  });
  $("#template-render").addEventListener("click", async (e) => {
    const stage = $("#template-stage").value;
    if (!stage) { toast("Choose a stage to render for", { error: true }); return; }
    try {
      const data = await withBusy(e.target, () => api("POST", "/api/export", { body: {
        stage, content: $("#template-editor").value, template: $("#template-name").value.trim() || null, format: "env", missing: "skip", reveal: true } }));
      const out = $("#template-output"); out.hidden = false; out.textContent = data.content;
      for (const w of data.warnings) toast(w);
    } catch (err) { fail(err); }
  });
  $("#template-delete").addEventListener("click", async () => {
    const name = $("#template-name").value.trim();
    if (!name || !(await confirmDialog(`Delete ${name}?`, `Delete the template file ${name}?`))) return;
    try { await api("DELETE", "/api/template", { query: { name } }); currentTemplate = null; $("#template-editor").value = ""; toast(`Deleted ${name}`); await loadTemplates(); } catch (err) { fail(err); }
  });

  $("#settings-save").addEventListener("click", () => saveSettings({
    app_name: $("#set-app-name").value.trim(), template_path: $("#set-template-path").value.trim(), default_vault: $("#set-default-vault").value }));
  $("#stage-add").addEventListener("click", async () => {
    const name = $("#stage-new").value.trim();
    try { await api("POST", "/api/stages", { body: { name } }); $("#stage-new").value = ""; await refreshAll(); toast(`Added stage ${name}`); } catch (err) { fail(err); }
  });
  $("#vault-add").addEventListener("click", () => vaultDialog().catch(fail));
  $("#ws-save").addEventListener("click", async () => {
    try {
      await api("PUT", "/api/workspace", { body: { vaults: checked($("#ws-vaults")), stages: checked($("#ws-stages")) } });
      await refreshAll(); toast("Workspace saved");
    } catch (err) { fail(err); }
  });
  $("#verify-run").addEventListener("click", (e) => withBusy(e.target, runVerify).catch(fail));
}

async function start() {
  wire();
  try {
    await loadContext();
    setupDiff();
    await loadSecrets();
  } catch (err) { fail(err); }
}

document.addEventListener("DOMContentLoaded", start);
