// The welfare visitor's phone page: today's visits, then one visit with the resident's card and the checklist.
import { api, el, formatTime, lang, startPage, t, toast } from "./common.js";
import { label } from "./labels.js";
import { openFromHash, residentCard } from "./visits/card.js";
import { CHECKLIST } from "./visits/strings.js";

/** A local calendar day (YYYY-MM-DD) in the reader's language, e.g. 12月7日 / 7 Dec. */
function day(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", { month: "short", day: "numeric",
    timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, d)));
}

function statusBadge(visit) {
  if (visit.status === "done") return el("span", { class: "badge ok visit-status" }, t("vi.done"));
  if (visit.overdue) return el("span", { class: "badge bad visit-status" }, t("vi.overdue"));
  return el("span", { class: "badge warn visit-status" }, t("vi.planned"));
}

function findingWords(codes) {
  return codes.map((code) => {
    const [path, value] = code.split(":");
    return `${t(`vi.item.${path}`)}: ${t(`vi.value.${path}.${value}`)}`;
  }).join(lang() === "zh" ? "；" : "; ");
}

/** The home service a finding asks for, to book from the visit record. */
const SERVICE_FOR = {
  "wellbeing.hygiene:neglected": "bathing", "wellbeing.eating:poor": "meal", "home_safety.food_supply:short": "meal",
  "home_safety.fall_hazards:present": "cleaning", "wellbeing.health:complaint": "escort",
  "wellbeing.health:unwell": "nursing", "wellbeing.medication:missed": "nursing",
};

function recordItem(record, residentId) {
  const kinds = [...new Set(record.findings.map((code) => SERVICE_FOR[code]).filter(Boolean))];
  return el("li", { class: "record" },
    el("div", { class: "row" }, el("strong", {}, t(`vi.outcome.${record.outcome}`)),
      el("span", { class: "muted" }, formatTime(record.visited_at, { seconds: false })),
      el("span", { class: "muted" }, record.visitor)),
    record.outcome === "seen" ? el("p", {}, record.findings.length
      ? t("vi.findings", { list: findingWords(record.findings) }) : t("vi.noFindings")) : null,
    record.incident_id ? el("p", { class: "incident-link" }, t("vi.incident", { id: record.incident_id })) : null,
    record.note ? el("p", { class: "muted" }, record.note) : null,
    kinds.length ? el("p", { class: "row book-links" }, kinds.map((kind) => el("a", { class: "button",
      id: `book-${record.id}-${kind}`, href: `/bookings#resident=${residentId}&kind=${kind}` },
    t("vi.book", { kind: label("careKind", kind) })))) : null);
}

/** One checklist question as a group of large radio buttons, nothing chosen until the visitor answers. */
function question(section, item, values) {
  const name = `${section}.${item}`;
  return el("fieldset", { class: "question", "data-field": name },
    el("legend", {}, t(`vi.item.${name}`)),
    el("div", { class: "choices" }, Object.keys(values).map((value, index) => el("label", {
      class: `choice${index === 0 ? " reassuring" : ""}` },
    el("input", { type: "radio", name, value, required: true }), t(`vi.value.${name}.${value}`)))));
}

function recordForm(visit, onSaved) {
  const error = el("p", { class: "error", role: "alert", id: "form-error" });
  const sections = Object.entries(CHECKLIST).map(([section, items]) => el("section", { class: "checklist-part",
    id: `part-${section}` }, el("h3", {}, t(`vi.${section}`)),
  Object.entries(items).map(([item, [, , values]]) => question(section, item, values))));
  const checklist = el("div", { id: "checklist" }, sections);
  const hint = el("p", { class: "muted hidden", id: "not-home-hint" }, t("vi.notHomeHint"));
  const outcome = el("fieldset", { class: "question outcome" }, el("legend", {}, t("vi.outcome")),
    el("div", { class: "choices" }, ["seen", "not_home"].map((value) => el("label", { class: "choice" },
      el("input", { type: "radio", name: "outcome", value, checked: value === "seen", onchange: () => {
        const seen = value === "seen";
        checklist.classList.toggle("hidden", !seen);
        hint.classList.toggle("hidden", seen);
        for (const input of checklist.querySelectorAll("input")) input.required = seen;
      } }), t(`vi.outcome.${value}`)))));
  const note = el("textarea", { id: "visit-note", name: "note", maxlength: 2000 });
  const raise = el("input", { type: "checkbox", id: "raise-incident" });
  const submit = el("button", { type: "submit", class: "primary big", id: "record-submit" }, t("vi.submit"));
  const form = el("form", { class: "card record-form", id: "record-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const seen = data.get("outcome") === "seen";
    const body = { visited_at: new Date().toISOString(), outcome: data.get("outcome"),
      note: note.value.trim() || null, open_incident: raise.checked };
    for (const fieldset of form.querySelectorAll("fieldset[data-field]")) fieldset.classList.remove("missing");
    if (seen) {
      const missing = [...checklist.querySelectorAll("fieldset[data-field]")]
        .filter((fieldset) => !data.get(fieldset.dataset.field));
      if (missing.length) {
        for (const fieldset of missing) fieldset.classList.add("missing");
        error.textContent = t("vi.missing", { n: missing.length });
        missing[0].querySelector("input").focus();
        return;
      }
      body.checklist = Object.fromEntries(Object.entries(CHECKLIST).map(([section, items]) => [section,
        Object.fromEntries(Object.keys(items).map((item) => [item, data.get(`${section}.${item}`)]))]));
    }
    submit.disabled = true;
    try {
      const saved = await api(`care/visits/${visit.id}/records`, { method: "POST", body });
      toast(t(saved.incident_id ? "vi.savedIncident" : "vi.saved"));
      onSaved();
    } catch (err) {
      error.textContent = t("error.generic", { detail: Array.isArray(err.detail)
        ? err.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ") : err.message });
      submit.disabled = false;
    }
  } },
  el("h2", {}, t("vi.form")), outcome, hint, checklist,
  el("label", { for: "visit-note" }, t("vi.note")), note,
  el("label", { class: "check" }, raise, t("vi.raise")), error, submit);
  form.addEventListener("change", (event) => {  // an answered question is no longer marked as missing
    event.target.closest("fieldset[data-field]")?.classList.remove("missing");
    if (!form.querySelector("fieldset.missing")) error.textContent = "";
  });
  return form;
}

function visitorCard(card) {
  const level = card.standing.level;
  return residentCard(card.resident, {
    facts: card.living_situation.map((code) => t(`vi.living.${code}`)),
    rows: [el("dt", {}, t("vi.level")),
      el("dd", { id: "ability-level" }, level === null ? t("vi.noLevel") : t(`vi.level.${level}`))],
  });
}

startPage("visits", async (main) => {
  main.classList.add("visits");

  async function showList() {
    history.replaceState(null, "", "/visits");
    const visits = await api("care/visits");
    main.replaceChildren(el("h1", {}, t("vi.today")), visits.length
      ? el("ul", { class: "visit-list", id: "visit-list" }, visits.map((visit) => el("li", {
        class: `visit-item s-${visit.status}`, id: `visit-${visit.id}`, "data-status": visit.status },
      el("button", { type: "button", class: "visit-open", onclick: () => showVisit(visit.id) },
        el("span", { class: "row" }, el("strong", { class: "visit-name" }, visit.resident_name), statusBadge(visit)),
        el("span", { class: "visit-address" }, visit.address || "—"),
        el("span", { class: "muted" }, t(`vi.${visit.frequency}`), " · ",
          t("vi.dueBy", { from: day(visit.due_from), to: day(visit.due_by) }),
          visit.attempts ? ` · ${t("vi.attempts", { n: visit.attempts })}` : "")))))
      : el("p", { class: "muted", id: "no-visits" }, t("vi.none")));
  }

  async function showVisit(id) {
    history.replaceState(null, "", `/visits#${id}`);
    const card = await api(`care/visits/${id}`);
    main.replaceChildren(...[
      el("button", { type: "button", id: "back", class: "big", onclick: showList }, t("vi.back")),
      el("p", { class: "row" }, statusBadge(card.visit), el("span", { class: "muted" },
        t(`vi.${card.visit.frequency}`), " · ", t("vi.dueBy", { from: day(card.visit.due_from),
          to: day(card.visit.due_by) }))),
      visitorCard(card),
      card.records.length ? el("section", { class: "card", id: "records" }, el("h2", {}, t("vi.records")),
        el("ul", { class: "records" }, card.records.map((record) => recordItem(record, card.visit.resident_id)))) : null,
      card.visit.status === "planned" ? recordForm(card.visit, showList) : null].filter(Boolean));
    window.scrollTo(0, 0);
  }

  await openFromHash(showList, showVisit);
});
