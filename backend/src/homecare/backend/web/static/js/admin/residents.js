// Residents: search and page through them; enrol or change one with home, card and contacts in call order; their
// alarm thresholds and devices. Every record opened here is logged by the API.
import { api, el, formatTime, t, toast } from "../common.js";
import { detectionForm } from "./detection.js";
import { deviceTable, enrolForm } from "./devices.js";
import { checkbox, field, form, input, list, number, section, select, table, value } from "./ui.js";

const PAGE = 25;

/** A search box with results; onPick(summary) when one is chosen. Used here and on the family tab. */
export function residentPicker(onPick, { id = "res-search" } = {}) {
  const query = input({ type: "search", id, placeholder: t("adm.res.searchHint"), "aria-label": t("adm.res.search") });
  const results = el("ul", { class: "picker", id: `${id}-results` });
  let timer;
  query.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = query.value.trim();
      if (!text) { results.replaceChildren(); return; }
      const page = await api(`admin/residents?${new URLSearchParams({ q: text, limit: 10 })}`);
      results.replaceChildren(...page.items.map((r) => el("li", {},
        el("button", { type: "button", class: "link", onclick: () => { results.replaceChildren(); onPick(r); } },
          `${r.display_name} · ${r.external_ref || ""} · ${r.address || ""}`))));
      if (!page.items.length) results.append(el("li", { class: "muted" }, t("adm.none")));
    }, 250);
  });
  return el("div", { class: "picker-box" }, query, results);
}

function contactRow(contact, index, rows) {
  const name = input({ value: contact.name || "", "aria-label": t("adm.res.contactName") });
  const relation = input({ value: contact.relation || "", "aria-label": t("adm.res.relation") });
  const phone = input({ type: "tel", value: contact.phone || "", "aria-label": t("adm.res.phone") });
  const email = input({ type: "email", value: contact.email || "", "aria-label": t("adm.res.email") });
  const at = `contacts.${index}`;
  const row = el("fieldset", { class: "contact", dataset: { field: at } },
    el("legend", {}, t("adm.res.contactN", { n: index + 1 })),
    el("div", { class: "fields" },
      field(`${at}.name`, t("adm.res.contactName"), name), field(`${at}.relation`, t("adm.res.relation"), relation),
      field(`${at}.phone`, t("adm.res.phone"), phone), field(`${at}.email`, t("adm.res.email"), email)),
    el("p", { class: "field-error", role: "alert", id: `contact-${index}-error` }),
    el("div", { class: "row" },
      index > 0 ? el("button", { type: "button", class: "small", onclick: () => rows.move(index, -1) }, `↑ ${t("adm.res.earlier")}`) : null,
      el("button", { type: "button", class: "small", onclick: () => rows.remove(index) }, t("adm.res.removeContact"))));
  row.read = () => ({ name: name.value.trim(), relation: value(relation), phone: value(phone), email: value(email) });
  return row;
}

/** The contacts editor: rows in call order, add, remove, move earlier. */
function contactsEditor(initial) {
  const box = el("div", { class: "contacts", id: "res-contacts" });
  let contacts = initial.map((c) => ({ ...c }));
  const rows = {
    draw() {
      box.replaceChildren(...contacts.map((c, i) => contactRow(c, i, rows)));
    },
    sync() { contacts = [...box.children].map((row) => row.read()); },
    remove(i) { rows.sync(); contacts.splice(i, 1); rows.draw(); },
    move(i, by) { rows.sync(); const [c] = contacts.splice(i, 1); contacts.splice(i + by, 0, c); rows.draw(); },
    add() { rows.sync(); contacts.push({}); rows.draw(); },
    read() { rows.sync(); return contacts; },
  };
  rows.draw();
  const add = el("button", { type: "button", id: "res-add-contact", onclick: () => rows.add() }, `+ ${t("adm.res.addContact")}`);
  return { node: el("div", {}, box, add), read: () => rows.read() };
}

/** The resident form: new (resident null) or an existing record; onSaved(record). */
export function residentForm(resident, stations, onSaved) {
  const r = resident || {};
  const c = {
    external_ref: input({ value: r.external_ref || "", autocomplete: "off" }),
    display_name: input({ value: r.display_name || "", required: true }),
    birth_year: input({ type: "number", value: r.birth_year ?? "", min: 1900, max: 2100, inputmode: "numeric" }),
    sex: select([["", "—"], ["female", t("adm.res.female")], ["male", t("adm.res.male")]], r.sex || ""),
    phone: input({ type: "tel", value: r.phone || "" }),
    timezone: input({ value: r.timezone || "Asia/Shanghai" }),
    address: input({ value: r.address || "", required: true }),
    lat: input({ value: r.lat ?? "", inputmode: "decimal" }),
    lon: input({ value: r.lon ?? "", inputmode: "decimal" }),
    station_id: select([["", t("adm.res.noStation")], ...stations.map((s) => [String(s.id), `${s.code} · ${s.name}`])],
      r.station_id ? String(r.station_id) : ""),
    vulnerable: checkbox(r.vulnerable),
    access_notes: el("textarea", {}, r.access_notes || ""),
    conditions: input({ value: (r.conditions || []).join("; ") }),
    medications: input({ value: (r.medications || []).join("; ") }),
    allergies: input({ value: (r.allergies || []).join("; ") }),
    mobility: input({ value: r.mobility || "" }),
    language: input({ value: r.language || "" }),
    consent_video: checkbox(r.consent_video),
  };
  const contacts = contactsEditor(r.contacts || [{}]);
  const f = (name, label, opts) => field(name, label, c[name], opts);
  const listHint = t("adm.res.listHint");
  return form("resident-form", [
    el("h2", {}, resident ? t("adm.res.editTitle", { name: r.display_name }) : t("adm.res.newTitle")),
    el("fieldset", {}, el("legend", {}, t("adm.res.person")), el("div", { class: "fields" },
      f("display_name", t("adm.res.name")), f("external_ref", t("adm.res.ref"), { hint: t("adm.res.refHint") }),
      f("birth_year", t("adm.res.birthYear")), f("sex", t("adm.res.sex")), f("phone", t("adm.res.phone")),
      f("language", t("adm.res.language"), { hint: t("adm.res.languageHint") }),
      f("timezone", t("adm.res.timezone")))),
    el("fieldset", {}, el("legend", {}, t("adm.res.home")), el("div", { class: "fields" },
      f("address", t("adm.res.address"), { wide: true }),
      f("lat", t("adm.res.lat"), { hint: t("adm.res.latHint") }), f("lon", t("adm.res.lon"), { hint: t("adm.res.lonHint") }),
      f("station_id", t("adm.res.station")), f("access_notes", t("adm.res.access"), { wide: true }),
      f("vulnerable", t("adm.res.vulnerable")))),
    el("fieldset", {}, el("legend", {}, t("adm.res.card")), el("div", { class: "fields" },
      f("conditions", t("adm.res.conditions"), { hint: listHint }), f("medications", t("adm.res.medications"), { hint: listHint }),
      f("allergies", t("adm.res.allergies"), { hint: listHint }), f("mobility", t("adm.res.mobility")),
      f("consent_video", t("adm.res.consentVideo")))),
    el("fieldset", {}, el("legend", {}, t("adm.res.contacts")), el("p", { class: "muted" }, t("adm.res.contactsHint")),
      contacts.node),
  ], async () => {
    const body = {
      external_ref: value(c.external_ref), display_name: c.display_name.value.trim(), birth_year: number(c.birth_year),
      sex: c.sex.value || null, phone: value(c.phone), timezone: c.timezone.value.trim() || "Asia/Shanghai",
      address: c.address.value.trim(), lat: number(c.lat), lon: number(c.lon),
      station_id: c.station_id.value ? Number(c.station_id.value) : null, vulnerable: c.vulnerable.checked,
      access_notes: value(c.access_notes), conditions: list(c.conditions.value), medications: list(c.medications.value),
      allergies: list(c.allergies.value), mobility: value(c.mobility), language: value(c.language),
      consent_video: c.consent_video.checked,
      contacts: contacts.read().filter((x) => x.name || x.phone || x.email || x.relation),
    };
    const saved = resident
      ? await api(`admin/residents/${resident.id}`, { method: "PUT", body })
      : await api("admin/residents", { method: "POST", body });
    toast(t("adm.saved"));
    await onSaved(saved);
  }, { submitLabel: resident ? t("adm.save") : t("adm.res.create") });
}

export async function residents(panel) {
  const stations = await api("admin/stations");
  const query = input({ type: "search", id: "res-filter", placeholder: t("adm.res.searchHint"), "aria-label": t("adm.res.search") });
  const station = select([["", t("adm.res.allStations")], ...stations.map((s) => [String(s.id), s.name])], "",
    { id: "res-station", "aria-label": t("adm.res.station") });
  const results = el("div", { id: "res-results" });
  const editor = el("div", { id: "res-editor" });
  let offset = 0;

  async function refresh() {
    const params = new URLSearchParams({ offset, limit: PAGE });
    if (query.value.trim()) params.set("q", query.value.trim());
    if (station.value) params.set("station_id", station.value);
    const page = await api(`admin/residents?${params}`);
    results.replaceChildren(table([
      [t("adm.res.name"), (r) => el("button", { type: "button", class: "link", dataset: { resident: r.id },
        onclick: () => open(r.id) }, r.display_name)],
      [t("adm.res.ref"), (r) => r.external_ref || "—"],
      [t("adm.res.address"), (r) => r.address || "—"],
      [t("adm.res.station"), (r) => r.station_name || "—"],
      [t("adm.res.devices"), (r) => String(r.devices)],
      [t("adm.res.vulnerable"), (r) => (r.vulnerable ? el("span", { class: "badge warn" }, t("adm.yes")) : "")],
    ], page.items, { id: "res-table" }),
    el("div", { class: "row pager" },
      el("span", { class: "muted", id: "res-count" }, t("adm.pageOf", { from: page.total ? offset + 1 : 0,
        to: offset + page.items.length, total: page.total })),
      el("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); refresh(); } },
        t("adm.prev")),
      el("button", { type: "button", disabled: offset + PAGE >= page.total, onclick: () => { offset += PAGE; refresh(); } },
        t("adm.next"))));
  }

  async function open(id) {
    const record = await api(`admin/residents/${id}`);
    const deviceBox = el("div", { id: "res-devices" });
    const refreshDevices = async () => {
      deviceBox.replaceChildren(deviceTable(await api(`admin/residents/${id}/devices`), refreshDevices,
        { withHolder: false, id: "res-devices-table" }));
      await refresh();
    };
    editor.replaceChildren(
      residentForm(record, stations, async (saved) => { await refresh(); await open(saved.id); }),
      await detectionForm(id),
      section(t("adm.res.devicesOf", { name: record.display_name }), deviceBox, enrolForm(id, refreshDevices)),
      el("p", { class: "muted" }, t("adm.res.enrolledAt", { at: formatTime(record.created_at) })));
    await refreshDevices();
    editor.scrollIntoView({ block: "start" });
  }

  function create() {
    editor.replaceChildren(residentForm(null, stations, async (saved) => { await refresh(); await open(saved.id); }));
    editor.querySelector("input")?.focus();
  }

  let timer;
  query.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; refresh(); }, 250); });
  station.addEventListener("change", () => { offset = 0; refresh(); });
  panel.append(el("h1", {}, t("adm.tab.residents")),
    el("div", { class: "card row toolbar" }, query, station,
      el("button", { type: "button", class: "primary", id: "res-new", onclick: create }, `+ ${t("adm.res.new")}`)),
    results, editor);
  await refresh();
}
