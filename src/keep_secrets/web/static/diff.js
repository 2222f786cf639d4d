// The diff tab: key x (vault, stage) matrix, masked, with inline edit of any cell.

import { $, api, badge, checkboxes, checked, clear, fail, h, state, withBusy } from "./core.js";
import { editSecret, newSecret } from "./secrets.js";

export function setupDiff() {
  checkboxes($("#diff-vaults"), state.ctx.vaults.map((v) => v.slug), state.ctx.visible_vaults, "diff-vault");
  checkboxes($("#diff-stages"), state.ctx.stages, state.ctx.visible_stages, "diff-stage");
}

let lastDiff = null;

export function ensureDiff() { return lastDiff ? Promise.resolve() : runDiff(); }

export async function runDiff() {
  const data = await api("GET", "/api/diff", { query: {
    vaults: checked($("#diff-vaults")).join(","), stages: checked($("#diff-stages")).join(","),
    only: $("#diff-only").value.trim(), except: $("#diff-except").value.trim() } });
  lastDiff = data;
  renderDiff();
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
    body.append(h("tr", { class: row.status, dataset: { key: row.key } }, h("td", { class: "key", text: row.key }), h("td", {}, badge(row.status)), cells));
  }
  const empty = $("#diff-empty");
  empty.hidden = rows.length > 0;
  empty.textContent = data.rows.length ? "Every key is identical in the chosen columns." : "No secrets in the chosen vaults and stages.";
}

export function wireDiff() {
  $("#diff-run").addEventListener("click", (e) => withBusy(e.target, runDiff).catch(fail));
  $("#diff-show").addEventListener("change", renderDiff);
}
