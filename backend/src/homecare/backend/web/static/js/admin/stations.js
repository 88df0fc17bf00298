// Stations: where they are, their opening hours in their own zone, capacity and the on-duty switch.
import { api, el, t, toast } from "../common.js";
import { checkbox, field, form, input, number, table, value } from "./ui.js";

function stationForm(station, onSaved) {
  const s = station || {};
  const c = {
    code: input({ value: s.code || "", autocomplete: "off" }),
    name: input({ value: s.name || "" }),
    address: input({ value: s.address || "" }),
    phone: input({ type: "tel", value: s.phone || "" }),
    lat: input({ value: s.lat ?? "", inputmode: "decimal" }),
    lon: input({ value: s.lon ?? "", inputmode: "decimal" }),
    opens: input({ type: "time", value: (s.opens || "08:00").slice(0, 5) }),
    closes: input({ type: "time", value: (s.closes || "20:00").slice(0, 5) }),
    timezone: input({ value: s.timezone || "Asia/Shanghai" }),
    capacity: input({ type: "number", min: 0, value: s.capacity ?? 3, inputmode: "numeric" }),
    on_duty: checkbox(station ? s.on_duty : true),
  };
  const f = (name, label, opts) => field(name, label, c[name], opts);
  return form("station-form", [
    el("h2", {}, station ? t("adm.st.editTitle", { name: s.name }) : t("adm.st.newTitle")),
    el("div", { class: "fields" },
      f("code", t("adm.st.code"), { hint: t("adm.st.codeHint") }), f("name", t("adm.st.name")),
      f("address", t("adm.st.address"), { wide: true }), f("phone", t("adm.st.phone")),
      f("lat", t("adm.res.lat"), { hint: t("adm.res.latHint") }), f("lon", t("adm.res.lon"), { hint: t("adm.res.lonHint") }),
      f("opens", t("adm.st.opens")), f("closes", t("adm.st.closes"), { hint: t("adm.st.closesHint") }),
      f("timezone", t("adm.res.timezone")), f("capacity", t("adm.st.capacity"), { hint: t("adm.st.capacityHint") }),
      f("on_duty", t("adm.st.onDuty"))),
  ], async () => {
    const body = {
      code: c.code.value.trim(), name: c.name.value.trim(), address: c.address.value.trim(), phone: value(c.phone),
      lat: number(c.lat), lon: number(c.lon), opens: c.opens.value || null, closes: c.closes.value || null,
      timezone: c.timezone.value.trim(), capacity: number(c.capacity), on_duty: c.on_duty.checked,
    };
    const saved = station
      ? await api(`admin/stations/${station.id}`, { method: "PUT", body })
      : await api("admin/stations", { method: "POST", body });
    toast(t("adm.saved"));
    await onSaved(saved);
  }, { submitLabel: station ? t("adm.save") : t("adm.st.create") });
}

export async function stations(panel) {
  const results = el("div", { id: "st-results" });
  const editor = el("div", { id: "st-editor" });

  async function refresh() {
    const rows = await api("admin/stations");
    results.replaceChildren(table([
      [t("adm.st.code"), (s) => el("button", { type: "button", class: "link", dataset: { station: s.code },
        onclick: () => edit(s) }, s.code)],
      [t("adm.st.name"), (s) => s.name],
      [t("adm.st.address"), (s) => s.address],
      [t("adm.st.hours"), (s) => `${s.opens.slice(0, 5)}–${s.closes.slice(0, 5)} (${s.timezone})`],
      [t("adm.st.capacity"), (s) => String(s.capacity)],
      [t("adm.st.homes"), (s) => String(s.residents)],
      [t("adm.st.onDuty"), (s) => el("span", { class: `badge ${s.on_duty ? "ok" : "warn"}` },
        t(s.on_duty ? "adm.yes" : "adm.no"))],
    ], rows, { id: "st-table" }));
  }

  const saved = async () => { editor.replaceChildren(); await refresh(); };
  const edit = (station) => editor.replaceChildren(stationForm(station, saved));

  panel.append(el("h1", {}, t("adm.tab.stations")),
    el("div", { class: "row toolbar" },
      el("button", { type: "button", class: "primary", id: "st-new", onclick: () => edit(null) }, `+ ${t("adm.st.new")}`)),
    results, editor);
  await refresh();
}
