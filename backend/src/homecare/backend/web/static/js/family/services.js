// Home services on the family page: book one for their relative (the nearest station with a place first, the
// co-payment and subsidy shown before confirming; once or every weekday), their bookings with move and cancel by
// a reason, and after a visit a rating and a complaint.
import { api, dateInput, el, formatTime, lang, me, refusal, t, toast } from "../common.js";
import { label } from "../labels.js";
import { localDate, localInstant, localTime } from "./charts.js";
import "../care/refusals.js";

const DAY = 24 * 3600e3;
const RECENT = 14 * DAY; // visits done this long ago are still there to rate
const WEEKDAYS = [0, 1, 2, 3, 4];
const KINDS = ["meal", "bathing", "cleaning", "escort", "nursing", "rehabilitation"]; // the catalogue's own order

const money = (value) => t("fs.yuan", { v: new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en-GB",
  { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(Number(value)) });
const when = (iso) => formatTime(iso, { seconds: false });

function quoteText(quote) {
  return t("fs.quote", { price: money(quote.price_yuan), subsidy: money(quote.subsidy_yuan),
    copay: money(quote.copay_yuan) });
}

/** Where a booking stands for the family. */
function stateOf(booking, now = Date.now()) {
  if (booking.status === "cancelled") return "cancelled";
  if (booking.checked_out_at) return "done";
  if (booking.checked_in_at) return "in_progress";
  return Date.parse(booking.starts_at) > now ? "upcoming" : "due";
}

function field(id, text, control) {
  return [el("label", { for: id }, text), control];
}

/** A small inline form under a booking: ``parts`` then the reason, a submit and a close button. */
function stepForm(id, title, parts, submitText, onSubmit, onClose) {
  const error = el("p", { class: "error", role: "alert", id: `${id}-error` });
  const submit = el("button", { type: "submit", class: "primary" }, submitText);
  const form = el("form", { class: "step-form", id, "aria-label": title, onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    try {
      await onSubmit(new FormData(form));
    } catch (err) {
      error.textContent = t("error.generic", { detail: refusal(err) });
      submit.disabled = false;
    }
  } }, parts.flat(), error, el("div", { class: "row" }, submit,
    el("button", { type: "button", onclick: onClose }, t("fs.close"))));
  return form;
}

function reasonField(id) {
  return field(`${id}-reason`, t("fs.reason"), el("textarea", { id: `${id}-reason`, name: "reason", required: true,
    maxlength: 500 }));
}

function starsField(id) {
  return el("fieldset", { class: "question stars" }, el("legend", {}, t("fs.stars")),
    el("div", { class: "choices" }, [1, 2, 3, 4, 5].map((n) => el("label", { class: "choice" },
      el("input", { type: "radio", name: "stars", value: n, required: true, id: `${id}-star-${n}` }),
      t("fs.starsN", { n })))));
}

/** The section for one resident (``kind``: the kind of service the form starts on); ``refresh()`` asks again. */
export function servicesSection(resident, { kind: wanted = null } = {}) {
  const section = el("section", { id: "services", class: "card services", "aria-labelledby": "services-heading" });
  const bookForm = el("div", { id: "book" });
  const offers = el("div", { id: "offers" });
  const list = el("div", { id: "bookings-area" });
  let open = null; // the inline form open under a booking: { id, kind }

  async function refresh() {
    const [catalogue, bookings] = await Promise.all([api("care/services"),
      api(`care/residents/${resident.resident_id}/bookings`)]);
    drawForm(KINDS.filter((kind) => catalogue.some((s) => s.kind === kind)));
    drawList(bookings);
  }

  function drawForm(kinds) {
    if (!kinds.length) {
      bookForm.replaceChildren(el("p", { class: "muted", id: "no-services" }, t("fs.noServices")));
      return;
    }
    const tomorrow = localDate(Date.now() + DAY);
    const kind = el("select", { id: "book-kind", name: "kind" },
      kinds.map((k) => el("option", { value: k, selected: k === wanted }, label("careKind", k))));
    const date = dateInput({ id: "book-date", name: "date", required: true, value: tomorrow,
      min: localDate(Date.now()) });
    const time = el("input", { type: "time", id: "book-time", name: "time", required: true, value: "11:30", step: 300 });
    const until = dateInput({ id: "book-until", name: "until", value: localDate(Date.now() + 28 * DAY) });
    const untilBox = el("div", { class: "hidden", id: "book-until-box" }, field("book-until", t("fs.until"), until));
    const repeat = el("fieldset", { class: "question" }, el("legend", {}, t("fs.repeat")),
      el("div", { class: "choices" }, ["once", "weekdays"].map((value) => el("label", { class: "choice" },
        el("input", { type: "radio", name: "repeat", value, checked: value === "once", id: `book-${value}`,
          onchange: () => untilBox.classList.toggle("hidden", value !== "weekdays") }), t(`fs.repeat.${value}`)))));
    const error = el("p", { class: "error", role: "alert", id: "book-error" });
    const form = el("form", { id: "book-form", onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      const asked = new FormData(form);
      const startsAt = new Date(localInstant(asked.get("date"), asked.get("time"))).toISOString();
      try {
        const found = await api(`care/residents/${resident.resident_id}/offers?kind=${asked.get("kind")}`
          + `&starts_at=${encodeURIComponent(startsAt)}`);
        drawOffers(found, { startsAt, repeat: asked.get("repeat"), until: asked.get("until") });
      } catch (err) {
        offers.replaceChildren();
        error.textContent = t("error.generic", { detail: refusal(err) });
      }
    } }, el("div", { class: "book-fields" }, el("div", {}, field("book-kind", t("fs.kind"), kind)),
      el("div", {}, field("book-date", t("fs.date"), date)), el("div", {}, field("book-time", t("fs.time"), time))),
    repeat, untilBox, error,
    el("button", { type: "submit", class: "primary", id: "find-offers" }, t("fs.find")));
    bookForm.replaceChildren(form);
  }

  function drawOffers(found, asked) {
    if (!found.length) {
      offers.replaceChildren(el("p", { class: "muted", id: "no-offers" }, t("fs.noOffers")));
      offers.querySelector("p").focus?.();
      return;
    }
    const error = el("p", { class: "error", role: "alert", id: "confirm-error" });
    const choices = found.map((offer, i) => el("label", { class: "choice offer", "data-service-id": offer.service.id },
      el("input", { type: "radio", name: "service", value: offer.service.id, checked: i === 0 }),
      el("span", { class: "offer-words" },
        el("strong", {}, `${offer.service.station_name} · ${offer.service.name}`),
        el("span", {}, t("fs.offerLine", { min: Math.ceil(offer.travel_min), n: offer.free_places,
          duration: offer.service.duration_min })),
        el("span", { class: "offer-quote" }, quoteText(offer.quote)))));
    const confirm = el("button", { type: "submit", class: "primary", id: "confirm-booking" }, t("fs.confirm"));
    const form = el("form", { id: "offer-form", onsubmit: async (event) => {
      event.preventDefault();
      const serviceId = Number(new FormData(form).get("service"));
      const body = { resident_id: resident.resident_id, service_id: serviceId, starts_at: asked.startsAt };
      confirm.disabled = true;
      try {
        if (asked.repeat === "weekdays") {
          const made = await api("care/bookings/series", { method: "POST",
            body: { ...body, weekdays: WEEKDAYS, until: asked.until } });
          toast(t("fs.bookedSeries", { n: made.length }));
        } else {
          await api("care/bookings", { method: "POST", body });
          toast(t("fs.booked"));
        }
        offers.replaceChildren();
        await refresh();
        document.getElementById("bookings-heading")?.focus();
      } catch (err) {
        error.textContent = t("error.generic", { detail: refusal(err) });
        confirm.disabled = false;
      }
    } }, el("fieldset", { class: "question" },
      el("legend", {}, t(asked.repeat === "weekdays" ? "fs.offersSeries" : "fs.offers", { at: when(asked.startsAt) })),
      el("div", { class: "choices stacked" }, choices)),
    el("p", { class: "muted" }, t("fs.quoteNote")), error, confirm);
    offers.replaceChildren(form);
    form.querySelector("input").focus();
  }

  function bookingItem(booking, redraw) {
    const state = stateOf(booking);
    const id = booking.id;
    const mine = booking.ratings.find((r) => r.rater === "family" && r.recorded_by === me().username);
    const close = () => { open = null; redraw(); };
    const openForm = (kind) => () => {
      open = { id, kind };
      redraw();
      document.querySelector(`#${kind}-${id} :is(input, textarea, select)`)?.focus();
    };
    const afterSave = (message) => async () => {
      open = null;
      toast(message);
      await refresh();
    };
    let form = null;
    if (open?.id === id && open.kind === "move") {
      const starts = Date.parse(booking.starts_at);
      form = stepForm(`move-${id}`, t("fs.move"), [
        el("div", { class: "book-fields" },
          el("div", {}, field(`move-${id}-date`, t("fs.date"), dateInput({ id: `move-${id}-date`,
            name: "date", required: true, value: localDate(starts) }))),
          el("div", {}, field(`move-${id}-time`, t("fs.time"), el("input", { type: "time", id: `move-${id}-time`,
            name: "time", required: true, step: 300, value: localTime(starts) })))),
        reasonField(`move-${id}`)], t("fs.moveConfirm"), async (data) => {
        await api(`care/bookings/${id}/move`, { method: "POST", body: { reason: data.get("reason").trim(),
          starts_at: new Date(localInstant(data.get("date"), data.get("time"))).toISOString() } });
        await afterSave(t("fs.moved"))();
      }, close);
    } else if (open?.id === id && open.kind === "cancel") {
      form = stepForm(`cancel-${id}`, t("fs.cancel"), [reasonField(`cancel-${id}`)], t("fs.cancelConfirm"),
        async (data) => {
          await api(`care/bookings/${id}/cancel`, { method: "POST", body: { reason: data.get("reason").trim() } });
          await afterSave(t("fs.cancelled"))();
        }, close);
    } else if (open?.id === id && open.kind === "rate") {
      form = stepForm(`rate-${id}`, t("fs.rate"), [starsField(`rate-${id}`),
        field(`rate-${id}-comment`, t("fs.comment"), el("textarea", { id: `rate-${id}-comment`, name: "comment",
          maxlength: 1000 }))], t("fs.rateConfirm"), async (data) => {
        await api(`care/bookings/${id}/ratings`, { method: "POST", body: { stars: Number(data.get("stars")),
          comment: data.get("comment").trim() || null } });
        await afterSave(t("fs.rated"))();
      }, close);
    } else if (open?.id === id && open.kind === "complain") {
      form = stepForm(`complain-${id}`, t("fs.complain"), [
        field(`complain-${id}-category`, t("fs.category"), el("select", { id: `complain-${id}-category`,
          name: "category" }, ["late", "missed", "incomplete", "attitude", "safety", "charge", "other"].map((c) =>
          el("option", { value: c }, label("complaint", c))))),
        field(`complain-${id}-text`, t("fs.complaintText"), el("textarea", { id: `complain-${id}-text`, name: "text",
          required: true, maxlength: 2000 }))], t("fs.complainConfirm"), async (data) => {
        await api(`care/bookings/${id}/complaints`, { method: "POST", body: { category: data.get("category"),
          text: data.get("text").trim() } });
        await afterSave(t("fs.complained"))();
      }, close);
    }
    const button = (kind, text) => el("button", { type: "button", id: `${kind}-open-${id}`,
      "aria-expanded": String(open?.id === id && open.kind === kind), onclick: openForm(kind) }, text);
    const actions = [];
    if (state === "upcoming") actions.push(button("move", t("fs.move")), button("cancel", t("fs.cancel")));
    if (state === "done" && !mine) actions.push(button("rate", t("fs.rate")));
    if (["done", "in_progress", "due"].includes(state)) actions.push(button("complain", t("fs.complain")));
    const tone = { upcoming: "warn", in_progress: "ok", done: "ok", due: "warn", cancelled: "" }[state];
    return el("li", { class: `booking s-${state}`, id: `booking-${id}`, "data-state": state },
      el("div", { class: "row" }, el("strong", {}, `${label("careKind", booking.service.kind)} · ${booking.service.name}`),
        el("span", { class: `badge ${tone} booking-state` }, t(`fs.state.${state}`))),
      el("p", {}, el("time", { datetime: booking.starts_at }, when(booking.starts_at)), " – ",
        formatTime(booking.ends_at, { date: false, seconds: false }), " · ", booking.service.station_name,
        booking.series_id ? ` · ${t("fs.series")}` : ""),
      el("p", { class: "muted" }, quoteText(booking.quote),
        booking.carer_name ? ` · ${t("fs.carer", { name: booking.carer_name })}` : ""),
      booking.outcome ? el("p", {}, t("fs.outcome", { outcome: label("careOutcome", booking.outcome) })) : null,
      mine ? el("p", { class: "my-rating" }, t("fs.myRating", { n: mine.stars }),
        mine.comment ? ` · ${mine.comment}` : "") : null,
      booking.complaints.length ? el("p", { class: "complaints-note" }, t("fs.complaints", {
        list: booking.complaints.map((c) => label("complaint", c.category)).join(lang() === "zh" ? "、" : ", ") }))
        : null,
      actions.length && !form ? el("div", { class: "actions" }, actions) : null, form);
  }

  function drawList(bookings) {
    const now = Date.now();
    const shown = bookings.filter((b) => b.status === "booked" && Date.parse(b.ends_at) > now - RECENT)
      .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
    const redraw = () => drawList(bookings);
    list.replaceChildren(el("h3", { id: "bookings-heading", tabindex: "-1" }, t("fs.bookings")), shown.length
      ? el("ol", { class: "bookings", id: "bookings" }, shown.map((b) => bookingItem(b, redraw)))
      : el("p", { class: "muted", id: "no-bookings" }, t("fs.noBookings")));
  }

  section.append(el("h2", { id: "services-heading" }, t("fs.title")), bookForm, offers, list);
  return { section, refresh };
}
