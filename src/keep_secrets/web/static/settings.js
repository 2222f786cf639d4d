// The settings tab: project settings, stages, vaults, the personal workspace and verify.

import { $, api, badge, checkboxes, checked, clear, confirmDialog, fail, h, loadContext, openDialog, options, state, toast, withBusy } from "./core.js";
import { setupDiff } from "./diff.js";

export function renderSettings() {
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

export async function refreshAll() {
  await loadContext();
  renderSettings();
  setupDiff();
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

export async function vaultDialog(existing = null) {
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

export async function runVerify() {
  const data = await api("POST", "/api/verify", { body: { read_only: $("#verify-read-only").checked } });
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
