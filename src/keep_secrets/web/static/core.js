// keep web UI, shared pieces: DOM helpers, the API client, dialogs, toasts and page state.
// Plain JavaScript modules, no build step. Every value is put into the page with textContent
// (never innerHTML), and values are fetched in full only when revealed.

// ---------------------------------------------------------------------------------------
// helpers

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function h(tag, attrs = {}, ...children) {
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

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

export class ApiError extends Error {
  constructor(status, message, hint) { super(message); this.status = status; this.hint = hint; }
}

// The session secret lives in this origin's storage (scheme + host + port: another local
// port cannot read it) and goes out as an Authorization header; there is no cookie.
const SESSION_KEY = "keep.session";
export const session = {
  get() { try { return localStorage.getItem(SESSION_KEY); } catch (err) { return null; } },
  set(value) { localStorage.setItem(SESSION_KEY, value); },
  clear() { try { localStorage.removeItem(SESSION_KEY); } catch (err) { /* storage disabled */ } },
  key: SESSION_KEY,
};

// what the page does when the server says the session is over (set by app.js)
export const hooks = { signedOut: (message) => showBanner(message) };

export async function api(method, path, { query = null, body = null } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += "?" + qs;
  }
  const init = { method, headers: { "Accept": "application/json" }, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };
  const secret = session.get();
  if (secret) init.headers["Authorization"] = `Session ${secret}`;
  if (body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    showBanner("The keep server is not reachable. Is `keep server` still running?", "unreachable");
    throw new ApiError(0, "The keep server is not reachable");
  }
  if ($("#banner").dataset.kind === "unreachable") hideBanner();
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  if (!response.ok) {
    const message = (data && data.error) || `HTTP ${response.status}`;
    if (response.status === 401 && path !== "/api/session") {
      // only forget the secret we sent: another tab may have signed in meanwhile
      if (secret && session.get() === secret) session.clear();
      hooks.signedOut("Your session has ended (idle for too long, signed out, or `keep server` was restarted). " +
        "Press Enter in the terminal running `keep server` and open the new sign-in link.");
    }
    const error = new ApiError(response.status, message, data && data.hint);
    error.data = data;
    throw error;
  }
  return data;
}

// a 409 whose body says what changed (a secret's or a template's revision): the page offers a choice
export function isStale(err) { return Boolean(err && err.status === 409 && err.data && err.data.conflict); }

export function errorText(err) {
  if (err instanceof ApiError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  return String(err && err.message ? err.message : err);
}

const MAX_TOASTS = 3;

// Toasts sit in a strip at the bottom; at most MAX_TOASTS at once (the oldest goes), and the
// page gets room below its content for them, so scrolling always brings a control clear.
export function toast(message, { error = false, action = null, timeout = 5000 } = {}) {
  const box = h("div", { class: "toast" + (error ? " error" : ""), role: error ? "alert" : "status" }, h("span", { text: message }));
  const remove = () => { box.remove(); fitToasts(); };
  if (action) box.append(h("button", { type: "button", text: action.label, onclick: () => { remove(); action.run(); } }));
  box.append(h("button", { type: "button", class: "toast-close", text: "✕", "aria-label": "Dismiss", onclick: remove }));
  const strip = $("#toasts");
  strip.append(box);
  while (strip.children.length > MAX_TOASTS) strip.firstElementChild.remove();
  fitToasts();
  setTimeout(remove, action ? timeout * 2 : timeout);
}

function fitToasts() {
  const strip = $("#toasts");
  document.body.style.paddingBottom = strip.children.length ? `${strip.offsetHeight + 24}px` : "";
}

// the sticky table header sits right under the (sticky, wrapping) top bar
export function trackTopbar() {
  const set = () => document.documentElement.style.setProperty("--topbar-h", `${$(".topbar").offsetHeight}px`);
  set();
  new ResizeObserver(set).observe($(".topbar"));
}

export function fail(err) { toast(errorText(err), { error: true, timeout: 8000 }); }

export function showBanner(text, kind = "") { const b = $("#banner"); b.textContent = text; b.dataset.kind = kind; b.hidden = false; }

export function hideBanner() { const b = $("#banner"); b.hidden = true; b.textContent = ""; b.dataset.kind = ""; }

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function badge(text, kind) { return h("span", { class: "badge " + (kind || text).replace(/\s+/g, "-") }, text); }

export function options(select, items, selected) {
  clear(select);
  for (const item of items) {
    const [value, label] = Array.isArray(item) ? item : [item, item];
    select.append(h("option", { value, selected: value === selected }, label));
  }
}

export function checkboxes(container, names, checked, name) {
  clear(container);
  for (const n of names) {
    container.append(h("label", {}, h("input", { type: "checkbox", name, value: n, checked: checked.includes(n) }), n));
  }
}

export function checked(container) { return $$("input[type=checkbox]:checked", container).map((i) => i.value); }

// Disable `button` while `work` runs. With `settles`, the work itself decides the button's
// state once it succeeds (e.g. Import stays disabled after importing); on an error the old
// state comes back.
export async function withBusy(button, work, { settles = false } = {}) {
  const old = button.disabled;
  button.disabled = true;
  let ok = false;
  try { const result = await work(); ok = true; return result; } finally { if (!ok || !settles) button.disabled = old; }
}

// ---------------------------------------------------------------------------------------
// dialog: one <dialog>, filled per use; resolves with the clicked action's result
//
// A dialog's `close` event is queued, not fired at once: a dialog opened right after another
// was closed with dialog.close() (the "no longer exists" dialog after an edit found the key
// gone) would receive the old one's event and be settled unseen. So a `close` event that comes
// while the dialog is open again is not for the dialog on screen, and an action only closes
// its own dialog, never one it opened.

let openSeq = 0;

export function openDialog({ title, body, actions, wide = false, cancel = null }) {
  const dialog = $("#dialog");
  const seq = ++openSeq;
  dialog.classList.toggle("wide", wide);
  $("#dialog-title").textContent = title;
  clear($("#dialog-body")).append(...[].concat(body));
  const bar = clear($("#dialog-actions"));
  const error = h("p", { class: "error", role: "alert", hidden: true });
  $("#dialog-body").append(error);
  return new Promise((resolve) => {
    const close = (value) => { resolve(value); if (seq === openSeq && dialog.open) dialog.close(); };
    bar.append(h("button", { type: "button", text: cancel || ((actions || []).length ? "Cancel" : "Close"), onclick: () => close(null) }));
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
    dialog.onclose = () => { if (seq === openSeq && !dialog.open) resolve(null); };
    dialog.showModal();
    const first = $("input:not([readonly]):not([type=checkbox]), textarea, select", $("#dialog-body"));
    if (first) first.focus();
  });
}

// Work that closes the dialog once its answer comes (a rollback, a save that found the key gone)
// first asks whether the dialog it started in is still on screen: meanwhile the user may have
// closed it and opened another, which stays. Call it when the work starts.
export function dialogOnScreen() {
  const seq = openSeq;
  return () => seq === openSeq && $("#dialog").open;
}

// A dialog opened once an answer comes (Edit, History, Restore…) is not opened if the user opened
// another meanwhile: it would replace that one, and what they had typed in it; nor once the page
// has signed out meanwhile (the server answered while the session was valid): it would open over
// the sign-in screen. Call it when the work starts; true while no dialog has opened since and the
// page has not signed out.
let signOuts = 0;

export function noDialogSince() {
  const seq = openSeq, out = signOuts;
  return () => seq === openSeq && out === signOuts;
}

// the page signs out (app.js): work started before opens no dialog when its answer comes
export function forgetDialogWork() { signOuts += 1; }

export async function confirmDialog(title, text, label = "Delete") {
  return openDialog({ title, body: h("p", { text }), actions: [{ label, kind: "danger", run: () => true }] });
}

// ---------------------------------------------------------------------------------------
// state

export const state = {
  ctx: null,          // /api/context
  vault: null,
  stage: null,
  secrets: [],
  page: 0,            // the secrets table's page (PAGE_SIZE rows each)
  supportsRestore: false,
  supportsPlain: false,
  storesPlain: false,
  tab: "secrets",
};

export function vaultInfo(slug) { return (state.ctx.vaults || []).find((v) => v.slug === slug); }

export async function loadContext() {
  state.ctx = await api("GET", "/api/context");
  const ctx = state.ctx;
  $("#project-name").textContent = `${ctx.app_name} · ${ctx.namespace}`;
  document.title = `keep · ${ctx.app_name}`;
  const vaults = ctx.visible_vaults.length ? ctx.visible_vaults : ctx.vaults.map((v) => v.slug);
  if (state.vault === null && state.stage === null) {
    // first load: start where `keep server --vault --stage` said
    state.vault = ctx.initial.vault;
    state.stage = ctx.initial.stage;
  }
  if (!vaults.includes(state.vault)) state.vault = vaults.includes(ctx.default_vault) ? ctx.default_vault : vaults[0];
  const stages = ctx.visible_stages;
  if (!stages.includes(state.stage)) state.stage = stages[0];
  options($("#ctx-vault"), vaults.map((s) => [s, `${s} (${vaultInfo(s).driver})`]), state.vault);
  options($("#ctx-stage"), stages, state.stage);
}


export async function copyText(text) {
  try { await navigator.clipboard.writeText(text); toast("Copied to the clipboard"); } catch (err) { toast("Could not copy", { error: true }); }
}
