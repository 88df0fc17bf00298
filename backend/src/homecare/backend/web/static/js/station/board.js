// The service board (上门服务看板): today's home-service visits per providing station and carer with where each
// stands, the open non-arrivals at the top; redrawn by the station view's poll when its ETag changes.
import { ago, announce, el, formatTime, t } from "../common.js";

const TONE = { booked: "", late: "warn", missed: "bad", in_progress: "warn", done: "ok", short: "bad" };
const STATES = ["missed", "late", "booked", "in_progress", "done", "short"];

const hhmm = (iso) => formatTime(iso, { date: false, seconds: false });

function stateBadge(visit) {
  return el("span", { class: `badge visit-state ${TONE[visit.state]}`.trim(), "data-state": visit.state },
    t(`board.state.${visit.state}`));
}

/** What happened at the visit so far, in words. */
function progress(visit) {
  const parts = [];
  if (visit.checked_in_at) parts.push(t("board.in", { time: hhmm(visit.checked_in_at) }));
  if (visit.late_min !== null) parts.push(t("board.lateBy", { min: visit.late_min }));
  if (visit.left_at) parts.push(t("board.out", { time: hhmm(visit.left_at) }));
  if (visit.outcome && visit.outcome !== "completed") parts.push(t(`board.outcome.${visit.outcome}`));
  if (!visit.checked_in_at && visit.state !== "booked") {
    parts.push(el("span", { class: "since", "data-since": visit.starts_at }, t("board.since", { ago: ago(visit.starts_at) })));
  }
  return parts.flatMap((part, i) => (i ? [" · ", part] : [part]));
}

function nonArrival(visit) {
  return el("li", { class: "non-arrival", "data-booking-id": visit.booking_id },
    el("strong", {}, visit.resident_name), " · ", visit.service_name, " · ",
    visit.carer_name || t("board.noCarer"), " · ", t("board.booked", { time: hhmm(visit.starts_at) }), " · ",
    el("span", { class: "since", "data-since": visit.starts_at }, t("board.since", { ago: ago(visit.starts_at) })),
    visit.non_arrival_incident_id ? [" · ", t("board.alerted")] : null);
}

function carerTable(provider, carer) {
  const id = `board-${provider.station_id}-${carer.carer_id ?? "none"}`;
  return el("div", { class: "board-carer", id },
    el("h4", { id: `${id}-name` }, carer.carer_name || t("board.noCarer"),
      el("span", { class: "muted" }, " · ", t("board.visits", { n: carer.visits.length }))),
    el("div", { class: "table-wrap" }, el("table", { "aria-labelledby": `${id}-name` },
      el("thead", {}, el("tr", {}, [t("board.time"), t("board.resident"), t("board.service"), t("board.stateCol"),
        t("board.progress")].map((heading) => el("th", { scope: "col" }, heading)))),
      el("tbody", {}, carer.visits.map((visit) => el("tr", { "data-booking-id": visit.booking_id,
        "data-state": visit.state, class: `s-${visit.state}` },
      el("td", {}, `${hhmm(visit.starts_at)}–${hhmm(visit.ends_at)}`),
      el("td", {}, visit.resident_name), el("td", {}, visit.service_name), el("td", {}, stateBadge(visit)),
      el("td", {}, progress(visit))))))));
}

function providerBlock(provider) {
  const counts = STATES.filter((state) => provider.counts[state])
    .map((state) => t("board.count", { state: t(`board.state.${state}`), n: provider.counts[state] })).join(" · ");
  return el("section", { class: "board-provider", "aria-labelledby": `board-provider-${provider.station_id}` },
    el("h3", { id: `board-provider-${provider.station_id}` }, provider.station_name),
    el("p", { class: "muted board-counts" }, counts), provider.carers.map((carer) => carerTable(provider, carer)));
}

/** The board's section (``controls``: shown beside its heading); draw(board) redraws it and announces the visits
 * newly not arrived. */
export function serviceBoard(controls = null) {
  const alerts = el("div", { id: "board-alerts" });
  const body = el("div", { id: "board-body" });
  const node = el("section", { class: "card service-board", id: "service-board", "aria-labelledby": "board-heading" },
    el("div", { class: "row board-head" }, el("h2", { id: "board-heading" }, t("board.title")), controls), alerts,
    body);
  let alerted = null;
  return {
    node,
    draw(board) {
      const fresh = board.non_arrivals.filter((visit) => alerted && !alerted.has(visit.booking_id));
      alerted = new Set(board.non_arrivals.map((visit) => visit.booking_id));
      for (const visit of fresh) {
        announce(t("board.announce", { resident: visit.resident_name, service: visit.service_name,
          carer: visit.carer_name || t("board.noCarer") }));
      }
      alerts.replaceChildren(board.non_arrivals.length ? el("div", { class: "non-arrivals", id: "non-arrivals" },
        el("h3", { class: "bad-text" }, t("board.nonArrivals", { n: board.non_arrivals.length })),
        el("ul", {}, board.non_arrivals.map(nonArrival))) : el("p", { class: "muted", id: "no-non-arrivals" },
        t("board.allArrived")));
      body.replaceChildren(...(board.providers.length ? board.providers.map(providerBlock)
        : [el("p", { class: "muted empty", id: "board-empty" }, t("board.empty"))]));
    },
    tick() {
        for (const since of node.querySelectorAll(".since[data-since]")) {
        since.textContent = t("board.since", { ago: ago(since.dataset.since) });
      }
    },
  };
}
