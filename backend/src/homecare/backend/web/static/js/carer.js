// The carer's phone page: today's visits in route order, then one visit with the resident's card, check-in by the
// phone's position, and check-out with the service's task checklist, notes and the outcome.
import { api, el, formatTime, refusal, startPage, t, toast } from "./common.js";
import { label } from "./labels.js";
import "./carer/strings.js";
import "./care/refusals.js";
import { openFromHash, residentCard } from "./visits/card.js";

const clockTime = (iso) => formatTime(iso, { date: false, seconds: false });
const PHOTO_EDGE = 1280; // pixels on the longer side: enough to see the work, well under the server's 1 MiB

/** The picture scaled down to PHOTO_EDGE as a JPEG. */
async function shrink(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, PHOTO_EDGE / Math.max(bitmap.width, bitmap.height));
  const canvas = el("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => { canvas.toBlob(resolve, "image/jpeg", 0.8); });
}

function state(visit) {
  if (visit.checked_out_at) return "done";
  if (visit.checked_in_at) return "in";
  return visit.non_arrival_at ? "late" : "todo";
}

function stateBadge(visit) {
  const now = state(visit);
  const tone = { done: "ok", in: "ok", late: "bad", todo: "warn" }[now];
  return el("span", { class: `badge ${tone} visit-state` }, t(`ca.${now}`));
}

/** The phone's position, or an error the carer can read. */
function position() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error("geolocation"));
      return;
    }
    navigator.geolocation.getCurrentPosition((found) => resolve({ lat: found.coords.latitude,
      lon: found.coords.longitude }), (err) => reject(new Error(err.message)), { enableHighAccuracy: true,
      timeout: 15000 });
  });
}

/** Send the phone's position with ``body`` to ``path``; shows the refusal (too far, too early) in ``error``. */
async function withPosition(button, error, path, body = {}) {
  button.disabled = true;
  error.textContent = t("ca.locating");
  try {
    const where = await position().catch((err) => {
      throw new Error(t("ca.noLocation", { detail: err.message }));
    });
    const saved = await api(path, { method: "POST", body: { ...where, ...body } });
    error.textContent = "";
    return saved;
  } catch (err) {
    error.textContent = t("error.generic", { detail: refusal(err) });
    button.disabled = false;
    return null;
  }
}

function checkOutForm(visit, onSaved) {
  const error = el("p", { class: "error", role: "alert", id: "check-out-error" });
  const tasks = el("fieldset", { class: "question", id: "tasks" }, el("legend", {}, t("ca.tasks")),
    el("div", { class: "choices stacked" }, visit.tasks.map((task) => el("label", { class: "choice" },
      el("input", { type: "checkbox", name: "task", value: task }), task))));
  const hint = el("p", { class: "muted" }, t("ca.problemHint"));
  const outcomes = el("fieldset", { class: "question" }, el("legend", {}, t("ca.outcome")),
    el("div", { class: "choices stacked" }, ["completed", "not_home", "unwell"].map((value) => el("label", {
      class: "choice" }, el("input", { type: "radio", name: "outcome", value, checked: value === "completed",
      onchange: () => tasks.classList.toggle("hidden", value === "not_home") }), label("careOutcome", value)))));
  const note = el("textarea", { id: "carer-note", name: "note", maxlength: 2000 });
  const photo = visit.photo_required ? el("input", { type: "file", id: "visit-photo", name: "photo",
    accept: "image/*", capture: "environment" }) : null;
  const submit = el("button", { type: "submit", class: "primary big", id: "check-out" }, t("ca.checkOut"));
  const form = el("form", { class: "card record-form check-out-form", id: "check-out-form", onsubmit: async (event) => {
    event.preventDefault();
    const outcome = new FormData(form).get("outcome");
    const checklist = outcome === "not_home" ? null : Object.fromEntries(
      [...tasks.querySelectorAll("input")].map((input) => [input.value, input.checked]));
    if (photo && outcome === "completed") {
      if (!photo.files.length && !visit.photo_taken_at) {
        error.textContent = t("ca.photoNeeded");
        photo.focus();
        return;
      }
      if (photo.files.length) {
        try {
          await api(`care/carer-visits/${visit.booking_id}/photo`, { method: "PUT", body: await shrink(photo.files[0]) });
        } catch (err) {
          error.textContent = t("error.generic", { detail: refusal(err) });
          return;
        }
      }
    }
    const saved = await withPosition(submit, error, `care/carer-visits/${visit.booking_id}/check-out`,
      { outcome, checklist, note: note.value.trim() || null });
    if (saved) {
      toast(t(saved.incident_id ? "ca.checkedOutIncident" : "ca.checkedOutToast"));
      onSaved();
    }
  } }, el("h2", {}, t("ca.checkOut")), visit.tasks.length ? tasks : null, outcomes, hint,
  photo ? [el("label", { for: "visit-photo" }, t(visit.photo_taken_at ? "ca.photoAgain" : "ca.photo")), photo] : null,
  el("label", { for: "carer-note" }, t("ca.note")), note, error, submit);
  return form;
}

function checkInBox(visit, onSaved) {
  const error = el("p", { role: "alert", id: "check-in-error" });
  const button = el("button", { type: "button", class: "primary big", id: "check-in", onclick: async () => {
    if (await withPosition(button, error, `care/carer-visits/${visit.booking_id}/check-in`)) {
      toast(t("ca.checkedInToast"));
      onSaved();
    }
  } }, t("ca.checkIn"));
  return el("section", { class: "card", id: "check-in-box" }, button, error, el("p", { class: "muted" },
    t("ca.unitHint")));
}

function visitLine(visit) {
  return [t("ca.time", { from: clockTime(visit.starts_at), to: clockTime(visit.ends_at) }), " · ",
    label("careKind", visit.service_kind), " · ", visit.service_name];
}

function proofs(visit) {
  if (!visit.checked_in_at) return null;
  const how = [visit.home_unit_in_at ? t("ca.byUnit") : null,
    visit.phone_in_m !== null ? t("ca.byPhone", { m: Math.round(visit.phone_in_m) }) : null].filter(Boolean);
  return el("p", { id: "proofs" }, t("ca.checkedIn", { at: clockTime(visit.checked_in_at) }),
    t("ca.proofs", { how: how.join(t("ca.and")) }),
    visit.outcome ? [el("br"), t("ca.result", { outcome: label("careOutcome", visit.outcome) })] : null);
}

startPage("carer", async (main) => {
  main.classList.add("visits", "carer");

  async function showList() {
    history.replaceState(null, "", "/carer");
    const visits = await api("care/carer-visits");
    main.replaceChildren(el("h1", {}, t("ca.today")), visits.length
      ? el("ol", { class: "route", id: "route" }, visits.map((visit) => el("li", {
        class: `route-item s-${state(visit)}`, id: `visit-${visit.booking_id}`, "data-state": state(visit) },
      el("button", { type: "button", class: "visit-open", onclick: () => showVisit(visit.booking_id) },
        el("span", { class: "row" }, el("strong", { class: "visit-name" }, visit.resident_name), stateBadge(visit)),
        el("span", {}, visit.address || "—"),
        el("span", { class: "muted" }, ...visitLine(visit))))))
      : el("p", { class: "muted", id: "no-visits" }, t("ca.none")));
  }

  async function showVisit(id) {
    history.replaceState(null, "", `/carer#${id}`);
    const card = await api(`care/carer-visits/${id}`);
    const visit = card.visit;
    const reopen = () => showVisit(id);
    main.replaceChildren(...[
      el("button", { type: "button", id: "back", class: "big", onclick: showList }, t("ca.back")),
      el("p", { class: "row" }, stateBadge(visit), el("span", { class: "muted" }, ...visitLine(visit))),
      proofs(visit),
      residentCard(card.resident),
      visit.checked_in_at ? null : checkInBox(visit, reopen),
      visit.checked_in_at && !visit.checked_out_at ? checkOutForm(visit, showList) : null].filter(Boolean));
    window.scrollTo(0, 0);
  }

  await openFromHash(showList, showVisit);
});
