// The template editor: list, open, save, delete, generate from a stage, validate, render.

import { $, $$, api, badge, checkboxes, checked, clear, confirmDialog, fail, h, isStale, openDialog, options, state, toast, withBusy } from "./core.js";

let currentTemplate = null;
// the revision of currentTemplate's file the editor's text started from (from GET /api/template):
// a save sends it back, and the server refuses it (409) if the file changed since
let currentRevision = null;
// bumped by every open, New and Generate: a template whose text comes late must not replace
// what the user went on to (another template, a new one being typed)
let editorSeq = 0;

export async function loadTemplates(select = null) {
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

export async function openTemplate(name) {
  const mine = ++editorSeq;
  const data = await api("GET", "/api/template", { query: { name } });
  if (mine !== editorSeq) return;
  currentTemplate = name;
  currentRevision = data.revision;
  $("#template-name").value = name;
  $("#template-editor").value = data.content;
  const stem = name.replace(/\.env$/, "");
  if (state.ctx.stages.includes(stem)) $("#template-stage").value = stem;
  clear($("#template-report"));
  $("#template-output").hidden = true;
  $$("#template-list button").forEach((b) => b.classList.toggle("active", b.dataset.name === name));
}

export function renderReport(data) {
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

export async function generateTemplate() {
  const stage = h("select", { name: "stage" });
  options(stage, state.ctx.stages, state.stage);
  const vaults = h("div", { class: "checks" });
  checkboxes(vaults, state.ctx.vaults.map((v) => v.slug), state.ctx.visible_vaults, "gen-vault");
  await openDialog({
    title: "Generate a template from a stage",
    body: [h("label", {}, "Stage", stage), h("fieldset", {}, h("legend", { text: "Vaults" }), vaults)],
    actions: [{ label: "Generate", kind: "primary", submit: true, run: async () => {
      const data = await api("POST", "/api/template/generate", { body: { stage: stage.value, vaults: checked(vaults) } });
      editorSeq += 1;
      currentTemplate = null; currentRevision = null;
      clear($("#template-report"));
      $("#template-name").value = data.name;
      $("#template-editor").value = data.content;
      $("#template-stage").value = stage.value;
      toast(`Generated ${data.placeholders} placeholder(s); review and Save`);
    } }],
  });
}

// Save: the revision goes along when the editor holds the file it was opened from (not a new
// name typed over it); without one it is a create (`overwrite: false`), refused if the name is
// taken. A 409 shows what happened, and the user reloads, opens or overwrites on purpose
async function saveTemplate(overwriting = undefined) {
  const name = $("#template-name").value.trim();
  const revision = overwriting !== undefined ? overwriting : name === currentTemplate ? currentRevision : null;
  const creating = !revision;
  const mine = editorSeq;
  try {
    // Save stays disabled until the answer: a double click of a new template's Save would
    // otherwise be told by its second request that the name (just created) is taken
    const data = await withBusy($("#template-save"), () => api("PUT", "/api/template", {
      body: { name, content: $("#template-editor").value, revision, overwrite: !creating } }));
    toast(`Saved ${name}`);
    if (mine === editorSeq) {
      clear($("#template-report"));
      currentTemplate = name; currentRevision = data.revision;
    }
    await loadTemplates();
  } catch (err) {
    if (!isStale(err) || mine !== editorSeq) { fail(err); return; }
    showConflict(err.data.conflict, creating ? "create" : "save");
  }
}

// the conflict panel of a refused save ("save": the file changed), create ("create": the name
// is taken) or delete ("delete": the file changed)
function showConflict(conflict, action) {
  const { name, current } = conflict;
  const button = (text, onclick, danger = false) => h("button", { type: "button", class: danger ? "danger" : null, text, onclick });
  let text; let actions;
  if (action === "create") {
    text = `${name} already exists. Nothing was saved: open it, or overwrite it with the text here.`;
    actions = [button("Open it", () => openTemplate(name).catch(fail)), button("Overwrite", () => saveTemplate(current.revision), true)];
  } else {
    const where = `${name} was ${current ? "changed" : "deleted"} elsewhere (another tab, an editor or the CLI) since you opened it.`;
    text = `${where} Nothing was ${action === "delete" ? "deleted" : "saved"}.`;
    const reload = current ? button("Reload", () => openTemplate(name).catch(fail)) : null;
    actions = action === "delete" ? [reload, button("Delete anyway", () => deleteTemplate(name, current.revision), true)]
      : [reload, button(current ? "Overwrite with mine" : "Save it again", () => saveTemplate(current ? current.revision : null), true)];
  }
  const box = clear($("#template-report"));
  box.className = "report";
  box.append(h("div", { class: "conflict-panel", role: "alert" },
    h("p", { class: "conflict-title", text }), h("div", { class: "actions" }, ...actions)));
}

// Delete: with the revision the editor opened (a name only typed has none, and deletes as
// before), refused (409) if the file changed since; the user reloads or deletes anyway
async function deleteTemplate(name, revision) {
  const mine = editorSeq;
  try {
    await api("DELETE", "/api/template", { query: { name, revision } });
    toast(`Deleted ${name}`);
    if (mine === editorSeq) {
      clear($("#template-report"));
      currentTemplate = null; currentRevision = null; $("#template-editor").value = "";
    }
    await loadTemplates();
  } catch (err) {
    if (!isStale(err) || mine !== editorSeq) { fail(err); return; }
    showConflict(err.data.conflict, "delete");
  }
}

export function wireTemplates() {
  $("#template-new").addEventListener("click", () => {
    editorSeq += 1;
    currentTemplate = null; currentRevision = null; $("#template-name").value = ""; $("#template-editor").value = ""; clear($("#template-report"));
    $("#template-output").hidden = true; $("#template-name").focus();
  });
  $("#template-generate").addEventListener("click", () => generateTemplate().catch(fail));
  $("#template-save").addEventListener("click", () => saveTemplate());
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
      if (document.body.classList.contains("signed-out")) return;  // signed out while it rendered
      const out = $("#template-output"); out.hidden = false; out.textContent = data.content;
      for (const w of data.warnings) toast(w);
    } catch (err) { fail(err); }
  });
  $("#template-delete").addEventListener("click", async () => {
    const name = $("#template-name").value.trim();
    if (!name || !(await confirmDialog(`Delete ${name}?`, `Delete the template file ${name}?`))) return;
    await deleteTemplate(name, name === currentTemplate ? currentRevision : null);
  });
}
