// The settings tab: project settings, stages, vaults, the personal workspace and verify.

import { $, api, badge, checkboxes, checked, clear, confirmDialog, fail, h, loadContext, openDialog, options, state, toast, withBusy } from "./core.js";
import { setupDiff } from "./diff.js";
import { switchContext } from "./secrets.js";

// `before`: the context the tab was drawn from, when it is drawn again after a save: a field the
// user has changed since and not saved (another card's save came meanwhile) keeps their value
export function renderSettings(before = null) {
  const ctx = state.ctx;
  const edited = (el, was) => before !== null && el.value !== was;
  if (!edited($("#set-app-name"), before && before.app_name)) $("#set-app-name").value = ctx.app_name;
  $("#set-namespace").value = ctx.namespace;
  if (!edited($("#set-template-path"), before && before.template_path)) $("#set-template-path").value = ctx.template_path;
  const defaultVault = $("#set-default-vault");
  options(defaultVault, ctx.vaults.map((v) => v.slug), edited(defaultVault, before && before.default_vault) ? defaultVault.value : ctx.default_vault);
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
      h("td", { class: "key", "data-label": "Slug", text: v.slug }),
      h("td", { "data-label": "Name" }, v.name, v.default ? " " : null, v.default ? badge("default", "current") : null),
      h("td", { "data-label": "Driver", text: v.driver_label }), h("td", { class: "muted small", "data-label": "Details", text: details }),
      h("td", { class: "row-actions", "data-label": "" },
        h("button", { type: "button", class: "link", text: "Edit", onclick: () => vaultDialog(v) }),
        v.default ? null : h("button", { type: "button", class: "link", text: "Make default", onclick: () => saveSettings({ default_vault: v.slug }) }),
        v.default ? null : h("button", { type: "button", class: "link danger-text", text: "Delete", onclick: () => deleteVault(v.slug) }))));
  }
  const ticks = (box, was, now) => {
    const mine = checked(box);
    return before !== null && [...mine].sort().join() !== [...was].sort().join() ? mine : now;
  };
  checkboxes($("#ws-vaults"), ctx.vaults.map((v) => v.slug), ticks($("#ws-vaults"), before && before.visible_vaults, ctx.visible_vaults), "ws-vault");
  checkboxes($("#ws-stages"), ctx.stages, ticks($("#ws-stages"), before && before.visible_stages, ctx.visible_stages), "ws-stage");
}

export async function refreshAll() {
  const before = `${state.vault}:${state.stage}`;
  const drawn = state.ctx;
  await loadContext();
  renderSettings(drawn);
  setupDiff();
  // the change took the page's vault or stage out of the workspace, and loadContext moved to
  // another: the table's rows (whose buttons act on the new one) go at once, as on a switch
  if (`${state.vault}:${state.stage}` !== before) switchContext();
}

export async function saveSettings(body) {
  try {
    await api("PUT", "/api/settings", { body });
    await refreshAll();
    toast("Settings saved");
  } catch (err) { fail(err); }
}

export async function removeStage(stage) {
  if (!(await confirmDialog(`Remove stage ${stage}?`, `Remove ${stage} from the project's stages? Secrets stored under it are not deleted.`, "Remove"))) return;
  try { await api("DELETE", "/api/stages", { query: { name: stage } }); await refreshAll(); toast(`Removed stage ${stage}`); } catch (err) { fail(err); }
}

export async function deleteVault(slug) {
  if (!(await confirmDialog(`Remove vault ${slug}?`, `Remove the configuration of vault ${slug}? Its secrets are not touched.`, "Remove"))) return;
  try { await api("DELETE", "/api/vaults", { query: { slug } }); await refreshAll(); toast(`Removed vault ${slug}`); } catch (err) { fail(err); }
}

// The vault form is drawn from the drivers' declared options (served by /api/context), so a
// new driver needs no change here: one field per option, shown only for the chosen driver.
function optionField(option, existing) {
  const current = existing ? (option.name === "scope" ? existing.scope : existing.options[option.name]) : undefined;
  const value = Array.isArray(current) ? current.join(",") : current == null ? "" : String(current);
  let input;
  if (option.kind === "choice") {
    input = h("select", { name: option.name });
    options(input, [["", option.default ? `default (${option.default})` : "—"], ...option.choices.map((c) => [c, c])], value);
  } else {
    const hint = option.kind === "list" ? "comma-separated" : option.default != null ? `default ${option.default}` : "";
    input = h("input", { type: option.kind === "int" ? "number" : "text", name: option.name, value, placeholder: hint });
  }
  return { option, input, label: h("label", { dataset: { field: option.name }, title: option.help }, option.prompt || option.help, input) };
}

export async function vaultDialog(existing = null) {
  const drivers = state.ctx.drivers;
  const driver = h("select", { name: "driver", disabled: !!existing });
  options(driver, drivers.map((d) => [d.driver, d.label]), existing ? existing.driver : "local");
  const field = (name, label, value = "", placeholder = "") => {
    const input = h("input", { type: "text", name, value: value || "", placeholder });
    return [input, h("label", { dataset: { field: name } }, label, input)];
  };
  const [slug, slugLabel] = field("slug", "Slug", existing && existing.slug, "ssm");
  const [name, nameLabel] = field("name", "Friendly name", existing && existing.name, "AWS SSM");
  const fields = {};
  for (const d of drivers) for (const option of d.options) if (!fields[option.name]) fields[option.name] = optionField(option, existing);
  const makeDefault = h("input", { type: "checkbox", name: "default", checked: existing && existing.default });
  const declared = () => (drivers.find((x) => x.driver === driver.value) || { options: [], label: "" });
  const sync = () => {
    const names = declared().options.map((o) => o.name);
    for (const [key, f] of Object.entries(fields)) f.label.hidden = !names.includes(key);
    slug.placeholder = driver.value;
    name.placeholder = declared().label;
  };
  driver.addEventListener("change", sync);
  sync();
  await openDialog({
    title: existing ? `Edit vault ${existing.slug}` : "Add a vault",
    body: [h("div", { class: "form-grid" }, h("label", {}, "Driver", driver), slugLabel, nameLabel, ...Object.values(fields).map((f) => f.label)),
      h("label", { class: "inline" }, makeDefault, "default vault")],
    actions: [{ label: existing ? "Save" : "Add vault", kind: "primary", submit: true, run: async () => {
      const body = { name: name.value.trim(), default: makeDefault.checked };
      for (const option of declared().options) body[option.name] = fields[option.name].input.value.trim();
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

export async function runVerify() {
  const data = await api("POST", "/api/verify", { body: { read_only: $("#verify-read-only").checked } });
  const box = clear($("#verify-result"));
  const mark = (v) => v === true ? badge("✓", "ok") : v === false ? badge("✗", "bad") : h("span", { class: "muted", text: "–" });
  const table = h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, h("th", { text: "Vault" }), h("th", { text: "Stage" }), data.steps.map((s) => h("th", { text: s })))),
    h("tbody", {}, data.results.map((r) => h("tr", { title: Object.values(r.errors || {}).join("\n") },
      h("td", { class: "key", text: r.vault }), h("td", { text: r.stage }), data.steps.map((s) => h("td", {}, mark(r[s])))))));
  box.append(h("div", { class: "summary" }, badge(data.ok ? "all permissions present" : "missing permissions", data.ok ? "ok" : "bad")),
    h("div", { class: "scroll-x" }, table));
  for (const r of data.results) for (const [step, message] of Object.entries(r.errors || {})) {
    box.append(h("p", { class: "muted small", text: `${r.vault}:${r.stage} ${step}: ${message}` }));
  }
}

export function wireSettings() {
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
