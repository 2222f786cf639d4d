// keep web UI entry point: tabs, keyboard shortcuts and start-up.
import { $, $$, fail, options, state, loadContext } from "./core.js";
import { ensureDiff, setupDiff, wireDiff } from "./diff.js";
import { loadSecrets, wireSecrets } from "./secrets.js";
import { renderSettings, wireSettings } from "./settings.js";
import { loadTemplates, wireTemplates } from "./templates.js";
import { setupExport, wireTransfer } from "./transfer.js";

const TAB_LOADERS = {
  secrets: () => loadSecrets(),
  diff: () => ensureDiff(),
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
  wireSecrets();
  wireDiff();
  wireTransfer();
  wireTemplates();
  wireSettings();
}

async function start() {
  wire();
  try {
    await loadContext();
    setupDiff();
    await loadSecrets();
  } catch (err) { fail(err); }
}

start();
