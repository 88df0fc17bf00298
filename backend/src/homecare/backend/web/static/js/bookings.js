// Home services booked on a resident's behalf by the hotline, the station or a welfare visitor: the resident's card,
// then the family page's booking section (the stations that can come, nearest first, with the co-payment shown
// before confirming; the bookings to move or cancel with a reason). The address names the resident and may name a
// kind of service to start on: /bookings#resident=12&kind=bathing.
import { addStrings, api, el, refusal, startPage, t } from "./common.js";
import { servicesSection } from "./family/services.js";
import "./family/strings.js";
import { residentCard } from "./visits/card.js";

addStrings({
  zh: {
    "title.bookings": "服务预约", "bk.title": "代老人预约上门服务", "bk.resident": "老人编号", "bk.open": "打开",
    "bk.hint": "接到热线电话或巡访发现需要时，输入老人编号，为老人预约、改期或取消上门服务。",
    "bk.notFound": "没有编号为 {id} 的老人，或您无权查看",
  },
  en: {
    "title.bookings": "Bookings", "bk.title": "Book home services for a resident", "bk.resident": "Resident number",
    "bk.open": "Open",
    "bk.hint": "On a hotline call or after a welfare visit, enter the resident's number to book, move or cancel "
      + "their home services.",
    "bk.notFound": "There is no resident {id}, or not one you may see",
  },
});

startPage("bookings", async (main) => {
  main.classList.add("bookings-page");
  const area = el("div", { id: "resident-area" });
  const input = el("input", { type: "number", id: "resident-id", name: "resident", min: 1, max: 2147483647,
    required: true, inputmode: "numeric" });
  const error = el("p", { class: "error", role: "alert", id: "resident-error" });
  const form = el("form", { id: "resident-form", class: "card", onsubmit: (event) => {
    event.preventDefault();
    location.hash = `resident=${Number(input.value)}`;
  } }, el("label", { for: "resident-id" }, t("bk.resident")),
  el("div", { class: "row" }, input, el("button", { type: "submit", class: "primary", id: "open-resident" },
    t("bk.open"))), el("p", { class: "muted" }, t("bk.hint")), error);
  main.append(el("h1", { id: "bookings-title" }, t("bk.title")), form, area);

  async function show() {
    const asked = new URLSearchParams(location.hash.slice(1));
    const id = Number(asked.get("resident"));
    error.textContent = "";
    if (!Number.isInteger(id) || id < 1) {
      area.replaceChildren();
      return;
    }
    input.value = String(id);
    try {
      const brief = await api(`care/residents/${id}/brief`);
      const services = servicesSection({ resident_id: id }, { kind: asked.get("kind") });
      area.replaceChildren(residentCard(brief), services.section);
      await services.refresh();
    } catch (err) {
      area.replaceChildren();
      error.textContent = err.status === 404 ? t("bk.notFound", { id }) : t("error.generic", { detail: refusal(err) });
    }
  }
  window.addEventListener("hashchange", show);
  await show();
});
