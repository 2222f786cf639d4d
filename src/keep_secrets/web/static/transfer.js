// The import wizard (paste or upload, preview, dry run, apply) and export (masked preview,
// reveal, download).

import { $, $$, api, badge, checkboxes, checked, clear, copyText, errorText, fail, h, options, state, toast, withBusy } from "./core.js";
import { loadSecrets } from "./secrets.js";

export function importBody(extra = {}) {
  return {
    vault: $("#import-vault").value, stage: $("#import-stage").value, content: $("#import-content").value,
    filename: $("#import-file").files[0] ? $("#import-file").files[0].name : "",
    mode: $("input[name=import-mode]:checked").value, only: $("#import-only").value.trim(), except: $("#import-except").value.trim(),
    ...extra,
  };
}

export function renderImport(data, applied) {
  $("#import-result").hidden = false;
  const summary = clear($("#import-summary"));
  if (applied) {
    summary.append(badge(data.dry_run ? `dry run: ${data.summary}` : data.summary, data.ok ? "ok" : data.dry_run ? "warn" : "bad"));
  } else {
    for (const [action, n] of Object.entries(data.counts)) summary.append(badge(`${n} ${action}`, action));
    if (!data.items.length && !(data.bad_lines || []).length) summary.append(badge("no keys selected", "warn"));
  }
  const bad = data.bad_lines || [];
  if (bad.length) summary.append(badge(`${bad.length} line${bad.length === 1 ? "" : "s"} not readable (not imported)`, "bad"));
  for (const [key, lines] of Object.entries(data.duplicates || {})) {
    summary.append(badge(`${key} defined ${lines.length}× (the last one wins)`, "warn"));
  }
  const body = clear($("#import-table tbody"));
  // unreadable lines first, by number only (their text may be a secret)
  for (const line of bad) {
    body.append(h("tr", { class: "bad-line", dataset: { line: String(line) } },
      h("td", { class: "key", "data-label": "Line", text: `line ${line}` }),
      h("td", { "data-label": "Plan" }, badge("invalid")),
      h("td", { class: "span", colspan: 3, "data-label": "Why", text: "not KEY=VALUE (an unclosed quote, or text after a closing quote): skipped, the other lines import" })));
  }
  for (const item of data.items) {
    body.append(h("tr", { dataset: { key: item.key } },
      h("td", { class: "key", "data-label": "Key", text: item.key }),
      h("td", { "data-label": "Plan" }, badge(item.action), item.reason ? h("span", { class: "muted small", text: " " + item.reason }) : null),
      h("td", { "data-label": "New value" }, item.value === null ? "" : h("code", { text: item.value })),
      h("td", { "data-label": "Current value" }, item.existing === null ? h("span", { class: "muted", text: "—" }) : h("code", { text: item.existing })),
      h("td", { "data-label": "Result" }, item.outcome ? badge(item.outcome) : "")));
  }
  const conflicts = data.items.filter((i) => i.action === "conflict").length;
  const done = applied && !data.dry_run;
  // after a real import nothing is re-enabled until the next Preview: a second click would import twice
  $("#import-dry").disabled = done;
  $("#import-apply").disabled = done || (conflicts > 0 && importBody().mode === "fail") || !data.items.length;
  $("#import-apply").title = conflicts ? "Choose overwrite or keep existing to import despite conflicts" : "";
}

export async function previewImport() {
  resetImportButtons();
  const mine = importSeq;
  try {
    const data = await api("POST", "/api/import/preview", { body: importBody() });
    if (mine === importSeq) renderImport(data, false);
  } catch (err) {
    if (mine !== importSeq) return;  // about choices no longer on screen
    clear($("#import-table tbody"));
    $("#import-result").hidden = true;
    clear($("#import-summary")).append(badge(errorText(err), "bad"));
    throw err;
  }
}

export async function applyImport(dryRun) {
  // both buttons stay disabled while it runs
  $("#import-dry").disabled = true; $("#import-apply").disabled = true;
  const mine = importSeq;
  const data = await api("POST", "/api/import/apply", { body: importBody({ dry_run: dryRun }) });
  // a real import is shown whatever changed meanwhile (it was written); a dry run of choices
  // changed since would enable Import for choices nobody previewed
  if (dryRun && mine !== importSeq) return;
  renderImport(data, true);
  if (!dryRun) {
    toast(`Import into ${data.target}: ${data.summary}`, { error: !data.ok });
    if (data.target === `${state.vault}:${state.stage}`) loadSecrets().catch(fail);
  }
}

// bumped whenever the content or a choice changes: a preview or dry run still under way then
// answers for choices no longer on screen, and must not enable Dry run and Import for them
let importSeq = 0;

export function resetImportButtons() { importSeq += 1; $("#import-dry").disabled = true; $("#import-apply").disabled = true; }

// the target's choices come from the context: a vault or stage removed in Settings meanwhile
// makes its select fall back to another, a change of target like the user's own (a preview of
// the old target must not enable Import into the new one)
export function setupImport() {
  const before = `${$("#import-vault").value}:${$("#import-stage").value}`;
  options($("#import-vault"), state.ctx.vaults.map((v) => v.slug), $("#import-vault").value || state.vault);
  options($("#import-stage"), state.ctx.stages, $("#import-stage").value || state.stage);
  if (`${$("#import-vault").value}:${$("#import-stage").value}` !== before) resetImportButtons();
}


// the form's choices (formats, templates) come from the server: an export asked for while they
// load waits for them instead of sending an empty format
let exportReady = Promise.resolve();

async function fillExportChoices() {
  const formats = (await api("GET", "/api/export/formats")).formats;
  options($("#export-format"), formats, $("#export-format").value || "env");
  const templates = (await api("GET", "/api/templates")).templates;
  const select = $("#export-template");
  const keep = select.value;
  options(select, [["", "none: every secret"], ...templates.map((t) => [t.name, t.name])], keep);
}

export function setupExport() {
  const before = `${checked($("#export-vaults"))}|${$("#export-stage").value}`;
  checkboxes($("#export-vaults"), state.ctx.vaults.map((v) => v.slug), [state.vault], "export-vault");
  options($("#export-stage"), state.ctx.stages, state.stage);
  // the tab starts again from the page's vault and stage: a preview of other choices goes
  if (`${checked($("#export-vaults"))}|${$("#export-stage").value}` !== before) clearExport();
  exportReady = fillExportChoices();
  return exportReady;
}

export function exportBody(reveal) {
  return {
    vaults: checked($("#export-vaults")).join(","), stage: $("#export-stage").value, format: $("#export-format").value,
    template: $("#export-template").value || null, missing: $("#export-missing").value, all: $("#export-all").checked,
    only: $("#export-only").value.trim(), except: $("#export-except").value.trim(), reveal,
  };
}

let exported = null;
let exportSeq = 0;  // bumped when a choice changes: an export still under way is then for old choices

// a preview always shows what the current choices give: changing one clears it
function clearExport() {
  exportSeq += 1; exported = null; $("#export-output").hidden = true; $("#export-output").textContent = ""; clear($("#export-summary"));
}

export async function runExport(reveal) {
  const summary = $("#export-summary");
  const out = $("#export-output");
  let data;
  let mine;
  try {
    await exportReady;
    mine = exportSeq;
    data = await api("POST", "/api/export", { body: exportBody(reveal) });
  } catch (err) {
    if (mine !== undefined && mine !== exportSeq) throw err;
    // never leave the previous format's content under an error
    exported = null;
    out.textContent = ""; out.hidden = true;
    clear(summary).append(badge(errorText(err), "bad"));
    throw err;
  }
  // what the caller asked for (a download, a copy) still comes back, but it is not shown (nor
  // kept for Copy) under choices it was not made from, nor on a page signed out meanwhile
  if (mine !== exportSeq || document.body.classList.contains("signed-out")) return data;
  exported = data;
  clear(summary).append(badge(`${data.count} entr${data.count === 1 ? "y" : "ies"}`, "ok"), badge(data.masked ? "values masked" : "real values", data.masked ? "" : "warn"));
  for (const w of data.warnings || []) summary.append(badge(w, "warn"));
  out.hidden = false;
  out.textContent = data.content === null ? "Template output is only shown with “Reveal values”." : data.content;
  return data;
}

export async function downloadExport() {
  const data = await runExport(true);
  const ext = { env: "env", shell: "sh", json: "json", yaml: "yaml", csv: "csv", docker: "env" }[data.format] || "txt";
  const blob = new Blob([data.content], { type: "text/plain" });
  const link = h("a", { href: URL.createObjectURL(blob), download: `${data.stage}.${ext}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

export function wireTransfer() {
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
  $("#import-dry").addEventListener("click", (e) => withBusy(e.target, () => applyImport(true), { settles: true }).catch(fail));
  $("#import-apply").addEventListener("click", (e) => withBusy(e.target, () => applyImport(false), { settles: true }).catch(fail));

  for (const el of $$("#tab-export select, #tab-export input")) el.addEventListener("change", clearExport);
  $("#export-preview").addEventListener("click", (e) => withBusy(e.target, () => runExport(false)).catch(fail));
  $("#export-reveal").addEventListener("click", (e) => withBusy(e.target, () => runExport(true)).catch(fail));
  $("#export-download").addEventListener("click", (e) => withBusy(e.target, downloadExport).catch(fail));
  $("#export-copy").addEventListener("click", async () => {
    try { const data = exported && !exported.masked ? exported : await runExport(true); await copyText(data.content); } catch (err) { fail(err); }
  });
}
