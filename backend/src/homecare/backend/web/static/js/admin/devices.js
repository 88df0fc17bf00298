// Devices: every enrolled device with its holder and state; enrolment for a resident, new credentials, revocation.
// A secret is shown once, in a dialog, and never again (the platform keeps only its hash).
import { api, el, formatTime, t, toast } from "../common.js";
import { label } from "../labels.js";
import { dialog, field, form, input, select, table } from "./ui.js";

export const KINDS = ["wristband", "sos_pendant", "fall_sensor", "door_sensor", "bed_sensor", "motion_sensor",
  "home_unit", "smoke_sensor", "water_sensor", "blood_pressure_monitor", "glucose_meter", "gps_watch",
  "pill_dispenser"];

/** The dialog with a device's new credentials: user name, secret, a copy button and the shown-once warning. */
export async function showSecret(issued) {
  const secret = el("code", { id: "secret-value", class: "secret" }, issued.secret);
  const copy = el("button", { type: "button", id: "secret-copy" }, t("adm.dev.copy"));
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(issued.secret);
      copy.textContent = t("adm.dev.copied");
    } catch {
      getSelection().selectAllChildren(secret); // no clipboard access (plain http): select it for Ctrl+C
      copy.textContent = t("adm.dev.selected");
    }
  });
  await dialog("secret-dialog", t("adm.dev.secretTitle", { uid: issued.username }),
    el("p", { class: "warning", role: "alert", id: "secret-warning" }, t("adm.dev.once")),
    el("dl", { class: "credentials" },
      el("dt", {}, t("adm.dev.username")), el("dd", {}, el("code", { id: "secret-username" }, issued.username)),
      el("dt", {}, t("adm.dev.secret")), el("dd", {}, secret, " ", copy)),
    el("p", { class: "muted" }, t("adm.dev.secretHelp")));
}

function state(device) {
  if (device.revoked_at) return el("span", { class: "badge bad" }, t("adm.dev.revoked", { at: formatTime(device.revoked_at) }));
  return el("span", { class: `badge ${device.online ? "ok" : "warn"}` }, t(device.online ? "adm.dev.online" : "adm.dev.offline"));
}

/** Rows of devices with their actions; refresh() after a change. */
export function deviceTable(devices, refresh, { withHolder = true, id = "devices-table" } = {}) {
  const actions = (device) => {
    if (device.revoked_at) return "";
    const renew = el("button", { type: "button", class: "small", dataset: { action: "reissue", uid: device.uid } },
      t("adm.dev.reissue"));
    renew.addEventListener("click", async () => {
      if (!confirm(t("adm.dev.confirmReissue", { uid: device.uid }))) return;
      try {
        await showSecret(await api(`admin/devices/${device.id}/credentials`, { method: "POST" }));
      } catch (err) {
        toast(t("error.generic", { detail: err.message }), "error");
      }
      await refresh();
    });
    const revoke = el("button", { type: "button", class: "small danger", dataset: { action: "revoke", uid: device.uid } },
      t("adm.dev.revoke"));
    revoke.addEventListener("click", async () => {
      if (!confirm(t("adm.dev.confirmRevoke", { uid: device.uid }))) return;
      try {
        await api(`admin/devices/${device.id}/revoke`, { method: "POST" });
        toast(t("adm.dev.revokedToast", { uid: device.uid }));
      } catch (err) {
        toast(t("error.generic", { detail: err.message }), "error");
      }
      await refresh();
    });
    return el("span", { class: "row" }, renew, revoke);
  };
  return table([
    [t("adm.dev.uid"), (d) => el("code", {}, d.uid)],
    [t("adm.dev.kind"), (d) => label("device", d.kind)],
    ...(withHolder ? [[t("adm.dev.holder"), (d) => d.resident_name || t("adm.dev.stock")]] : []),
    [t("adm.dev.state"), state],
    [t("adm.dev.lastSeen"), (d) => formatTime(d.last_seen_at)],
    [t("adm.dev.battery"), (d) => (d.battery === null ? "—" : `${d.battery} %`)],
    [t("adm.dev.enrolled"), (d) => formatTime(d.enrolled_at, { seconds: false })],
    [t("adm.actions"), actions],
  ], devices, { id, empty: t("adm.dev.none") });
}

/** The form that enrols a device for one resident and shows its secret. */
export function enrolForm(residentId, onDone) {
  const uid = input({ id: "enrol-uid", autocomplete: "off", autocapitalize: "none", placeholder: "wr-000123" });
  const kind = select(KINDS.map((k) => [k, label("device", k)]), "wristband", { id: "enrol-kind" });
  const node = form("enrol-form", [
    el("h3", {}, t("adm.dev.enrolTitle")),
    el("div", { class: "fields" }, field("uid", t("adm.dev.uid"), uid, { hint: t("adm.dev.uidHint") }),
      field("kind", t("adm.dev.kind"), kind)),
  ], async () => {
    const issued = await api(`admin/residents/${residentId}/devices`, { method: "POST",
      body: { uid: uid.value.trim(), kind: kind.value } });
    uid.value = "";
    await showSecret(issued);
    await onDone();
  }, { submitLabel: t("adm.dev.enrol") });
  return node;
}

export async function devices(panel) {
  const query = input({ type: "search", id: "dev-search", placeholder: t("adm.dev.searchHint"),
    "aria-label": t("adm.dev.search") });
  const revoked = el("input", { type: "checkbox", id: "dev-revoked" });
  const results = el("div", { id: "dev-results" });
  let offset = 0;
  const limit = 50;

  async function refresh() {
    const params = new URLSearchParams({ offset, limit, include_revoked: revoked.checked });
    if (query.value.trim()) params.set("q", query.value.trim());
    const page = await api(`admin/devices?${params}`);
    const pager = el("div", { class: "row pager" },
      el("span", { class: "muted" }, t("adm.pageOf", { from: page.total ? offset + 1 : 0,
        to: offset + page.items.length, total: page.total })),
      el("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - limit); refresh(); } },
        t("adm.prev")),
      el("button", { type: "button", disabled: offset + limit >= page.total,
        onclick: () => { offset += limit; refresh(); } }, t("adm.next")));
    results.replaceChildren(deviceTable(page.items, refresh), pager);
  }

  let timer;
  query.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; refresh(); }, 250); });
  revoked.addEventListener("change", () => { offset = 0; refresh(); });
  panel.append(el("h1", {}, t("adm.tab.devices")),
    el("p", { class: "muted" }, t("adm.dev.intro")),
    el("div", { class: "card row toolbar" }, query,
      el("label", { for: "dev-revoked", class: "inline" }, revoked, " ", t("adm.dev.showRevoked"))),
    results);
  await refresh();
}
