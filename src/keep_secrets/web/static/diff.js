// The diff tab: key x (vault, stage) matrix, masked, with inline edit of any cell.

import { $, api, badge, checkboxes, checked, clear, errorText, fail, h, state, withBusy } from "./core.js";
import { editSecret, newSecret } from "./secrets.js";

let lastDiff = null;
let diffSeq = 0;

// The columns start from the workspace (drawn again after a Settings save): when that changes
// the ticks, the matrix (and its schema check) of the old columns goes, a comparison still under
// way is dropped, and the tab compares again when shown (a workspace that hides production no
// longer shows production's column under ticks that leave it out)
export function setupDiff() {
  const before = `${checked($("#diff-vaults"))}|${checked($("#diff-stages"))}`;
  checkboxes($("#diff-vaults"), state.ctx.vaults.map((v) => v.slug), state.ctx.visible_vaults, "diff-vault");
  checkboxes($("#diff-stages"), state.ctx.stages, state.ctx.visible_stages, "diff-stage");
  if (`${checked($("#diff-vaults"))}|${checked($("#diff-stages"))}` === before) return;
  diffSeq += 1; lastDiff = null;  // ensureDiff (the tab shown, or boot's) compares again
  clear($("#diff-summary")); clear($("#diff-table thead")); clear($("#diff-table tbody"));
  if ($("#diff-check")) clear($("#diff-check"));
  $("#diff-empty").hidden = true;
}

export function ensureDiff() { return lastDiff ? Promise.resolve() : runDiff(); }

export async function runDiff() {
  const cells = { vaults: checked($("#diff-vaults")).join(","), stages: checked($("#diff-stages")).join(",") };
  // the schema check of the same cells, alongside; its failure (a bad schema.toml) is shown, not fatal
  const check = api("GET", "/api/check", { query: cells }).catch((err) => ({ error: errorText(err) }));
  const mine = ++diffSeq;  // a comparison started earlier (the tab's first one) must not replace a newer one
  const data = await api("GET", "/api/diff", { query: {
    ...cells, only: $("#diff-only").value.trim(), except: $("#diff-except").value.trim() } });
  if (mine !== diffSeq) return;
  lastDiff = data;
  renderDiff();
  const result = await check;
  if (mine === diffSeq) renderCheck(result);
}

// `keep check` results (.keep/schema.toml) under the summary: problems, never values
function renderCheck(result) {
  let box = $("#diff-check");
  if (!box) { box = h("div", { id: "diff-check", class: "summary" }); $("#diff-summary").after(box); }
  clear(box);
  if (result.error) { box.append(badge("schema error", "incomplete"), h("span", { text: " " + result.error })); return; }
  if (!result.schema) return;
  if (result.ok) { box.append(badge("schema: no problems", "identical")); return; }
  box.append(badge(`schema: ${result.problems.length} problem(s)`, "incomplete"));
  const list = h("ul", { class: "check-problems" });
  for (const p of result.problems) list.append(h("li", { dataset: { key: p.key }, text: `${p.key} (${p.vault}:${p.stage}): ${p.problem}` }));
  box.append(list);
}

export function renderDiff() {
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
    body.append(h("tr", { class: row.status, dataset: { key: row.key } }, h("td", { class: "key", text: row.key, title: row.key }), h("td", {}, badge(row.status)), cells));
  }
  const empty = $("#diff-empty");
  empty.hidden = rows.length > 0;
  empty.textContent = data.rows.length ? "Every key is identical in the chosen columns." : "No secrets in the chosen vaults and stages.";
}

export function wireDiff() {
  $("#diff-run").addEventListener("click", (e) => withBusy(e.target, runDiff).catch(fail));
  $("#diff-show").addEventListener("change", renderDiff);
  // an edit finished outside its dialog's promise (a conflict's overwrite or reload, a key found
  // gone): the matrix shown is compared again
  document.addEventListener("keep:changed", () => { if (lastDiff && state.tab === "diff") runDiff().catch(fail); });
}
