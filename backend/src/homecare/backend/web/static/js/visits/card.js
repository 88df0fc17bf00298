// What the phone pages of those who call at the home share (welfare visitors, carers): the resident's card (who,
// where, how to get in, health, whom to call), and opening the visit the address names.
import { el, lang, t, toast } from "../common.js";
import { label } from "../labels.js";
import "./strings.js";

/** The card of ``r`` (the API's ResidentBrief); ``facts`` and ``rows`` add what the caller's page knows besides. */
export function residentCard(r, { facts = [], rows = [] } = {}) {
  const line = [r.age !== null ? t("vi.age", { age: r.age }) : null, r.sex ? t(`vi.${r.sex}`) : null, ...facts]
    .filter(Boolean).join(" · ");
  return el("section", { class: "card resident-card", id: "resident-card", "aria-labelledby": "resident-name" },
    el("h1", { id: "resident-name" }, r.name),
    line ? el("p", { class: "facts" }, line) : null,
    el("p", { class: "address" }, r.address || "—"),
    r.access_notes ? el("p", {}, el("strong", {}, t("vi.access")), " ", r.access_notes) : null,
    r.phone ? el("p", {}, el("a", { class: "button big", href: `tel:${r.phone}` }, t("vi.call", { phone: r.phone })))
      : null,
    el("dl", { class: "facts-list" }, ...rows,
      r.conditions.length ? [el("dt", {}, t("vi.conditions")),
        el("dd", {}, r.conditions.join(lang() === "zh" ? "、" : ", "))] : null,
      r.mobility ? [el("dt", {}, t("vi.mobility")), el("dd", {}, r.mobility)] : null,
      r.language ? [el("dt", {}, t("vi.language")), el("dd", {}, r.language)] : null),
    r.contacts.length ? [el("h2", {}, t("vi.contacts")), el("ul", { class: "contacts" }, r.contacts.map((c) =>
      el("li", {}, `${c.name}${c.relation ? ` (${label("relation", c.relation)})` : ""} `,
        c.phone ? el("a", { href: `tel:${c.phone}` }, c.phone) : null)))] : null);
}

/** Open the visit the address names (``#id``, kept across a reload) or the list; a visit that cannot be opened
 * any more is said so, and the list shown. */
export async function openFromHash(showList, showOne) {
  const opened = Number(location.hash.slice(1));
  try {
    await (opened ? showOne(opened) : showList());
  } catch (err) {
    toast(t("error.generic", { detail: err.message }), "error");
    if (opened) await showList();
  }
}
