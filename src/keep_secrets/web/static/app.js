// keep web UI entry point: tabs, keyboard shortcuts and start-up.
import { $, $$, api, clear, errorText, fail, forgetDialogWork, hideBanner, hooks, session, state, loadContext, trackTopbar } from "./core.js";
import { ensureDiff, setupDiff, wireDiff } from "./diff.js";
import { loadSecrets, wireSecrets } from "./secrets.js";
import { renderSettings, wireSettings } from "./settings.js";
import { loadTemplates, wireTemplates } from "./templates.js";
import { setupExport, setupImport, wireTransfer } from "./transfer.js";

const TAB_LOADERS = {
  secrets: () => loadSecrets(),
  diff: () => ensureDiff(),
  import: () => { setupImport(); return Promise.resolve(); },
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
    if ($("#dialog").open || !state.ctx) return;
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

// -- signing in and out -----------------------------------------------------------------
// The sign-in secret comes in the URL fragment (#signin=...), which no server log or Referer
// sees; it is taken out of the address bar at once and exchanged (once) for a session.

function signinSecret() {
  const match = /(?:^#|&)signin=([A-Za-z0-9_-]+)/.exec(location.hash);
  return match ? match[1] : null;
}

// true: signed in; false: the link was refused (and said so); null: no link in the URL
async function consumeSignin() {
  const secret = signinSecret();
  if (!secret) return null;
  history.replaceState(null, "", location.pathname + location.search);
  try {
    const data = await api("POST", "/api/session", { body: { secret } });
    session.set(data.session);
    return true;
  } catch (err) {
    // a spent link reopened in a signed-in browser changes nothing
    if (!session.get()) signedOut(errorText(err));
    return false;
  }
}

function wipe() {
  // nothing revealed stays on a signed-out page, nor opens in it later
  forgetDialogWork();
  if ($("#dialog").open) $("#dialog").close();
  clear($("#dialog-body"));  // a closed dialog keeps its content (an edit's revealed value, history)
  for (const body of $$("main tbody")) clear(body);
  for (const out of $$("main pre.output")) { out.textContent = ""; out.hidden = true; }
  state.secrets = [];
}

export function signedOut(message) {
  wipe();
  document.body.classList.add("signed-out");
  $("#signin-message").textContent = message;
}

async function boot() {
  document.body.classList.remove("signed-out");
  hideBanner();
  try {
    await loadContext();
    // the tabs and their controls read the context (vaults, stages, drivers): index.html makes
    // them inert until it is there, or a click on a page drawn before its data threw or sent blanks
    for (const el of $$("main, .tabs")) el.inert = false;
    setupDiff();
    if (state.tab === "secrets") await loadSecrets(); else await TAB_LOADERS[state.tab]();
  } catch (err) { if (err.status !== 401) fail(err); }
}

async function signOut() {
  try { await api("DELETE", "/api/session"); } catch (err) { /* already over */ }
  session.clear();
  signedOut("You are signed out. To sign in again, press Enter in the terminal running `keep server` and open the new link.");
}

async function start() {
  hooks.signedOut = signedOut;
  trackTopbar();
  wire();
  $("#sign-out").addEventListener("click", () => signOut().catch(fail));
  window.addEventListener("hashchange", async () => { if (await consumeSignin() === true) await boot(); });
  // another tab signed in or out: follow it
  window.addEventListener("storage", (event) => {
    if (event.key !== session.key) return;
    if (event.newValue) boot();
    else signedOut("You were signed out in another tab.");
  });
  const outcome = await consumeSignin();
  if (!session.get()) {
    if (outcome === null) signedOut("Open the sign-in link printed by `keep server` (press Enter in its terminal for a new one).");
    return;
  }
  await boot();
}

start();
