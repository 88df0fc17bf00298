// The family status page, phone first: how they are at a glance, trends over 24 h / 7 d / 30 d, and alarms.
import { ago, announce, api, el, formatTime, lang, startPage, t, toast } from "./common.js";
import { label, relation } from "./labels.js";
import { dayStart, localDate, timeChart } from "./family/charts.js";
import { servicesSection } from "./family/services.js";
import { medicationCard } from "./family/medication.js";
import { svg } from "./svg.js";
import "./family/strings.js";

const REFRESH_MS = 10000; // the status is cheap to ask for; a family waiting for news sees it within seconds
const HOUR = 3600e3;
const RANGES = { "24h": 24 * HOUR, "7d": 7 * 24 * HOUR, "30d": 30 * 24 * HOUR };
// The status icons: a tick, an exclamation mark, a medical cross; drawn in currentColor on the panel.
const ICONS = {
  all_well: "M12 24l8 8 16-17",
  needs_attention: "M24 11v17M24 35v1",
  help_on_the_way: "M24 12v24M12 24h24",
};

function icon(state) {
  return svg("svg", { viewBox: "0 0 48 48", class: "status-icon", "aria-hidden": "true" },
    svg("circle", { cx: 24, cy: 24, r: 21 }), svg("path", { d: ICONS[state] }));
}

const number = (value, digits = 0) => new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en-GB",
  { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
const compact = (value) => new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en-GB",
  { notation: "compact", maximumFractionDigits: 1 }).format(value);
const hhmm = (iso) => formatTime(iso, { date: false, seconds: false });

function reasonText(reason) {
  const vars = { cause: label("cause", reason.cause), device: label("device", reason.device_kind),
    service: label("service", reason.service),
    battery: reason.battery, time: reason.since ? hhmm(reason.since) : "", ago: reason.since ? ago(reason.since) : "" };
  const key = reason.code === "device_offline" && reason.since ? "fa.why.device_offline_since" : `fa.why.${reason.code}`;
  return t(key, vars);
}

function statusPanel(status) {
  return el("section", { id: "status-panel", class: `status-panel s-${status.state}`, "data-state": status.state,
    "aria-labelledby": "status-headline" },
  icon(status.state),
  el("div", { class: "status-words" },
    el("h2", { id: "status-headline" }, t(`fa.state.${status.state}`)),
    el("p", { class: "status-sub" }, t(`fa.sub.${status.state}`)),
    status.reasons.length ? el("ul", { class: "reasons", id: "status-reasons" },
      status.reasons.map((reason) => el("li", { "data-code": reason.code }, reasonText(reason)))) : null));
}

function glance(status) {
  const last = status.last_activity;
  const today = status.today;
  const cards = [el("div", { class: "card glance-card", id: "last-activity" }, el("h3", {}, t("fa.last")),
    el("p", { class: "big-value" }, last ? t("fa.lastValue", { ago: ago(last.at), source: t(`fa.source.${last.source}`) })
      : t("fa.lastNone")),
    last ? el("p", { class: "muted" }, formatTime(last.at, { seconds: false })) : null)];
  if (today) {
    const ratio = today.usual ? today.today / today.usual : null;
    const verdict = ratio === null ? null : ratio > 1.2 ? "fa.more" : ratio < 0.8 ? "fa.less" : "fa.same";
    const scale = Math.max(today.today, today.usual || 0, 1);
    cards.push(el("div", { class: "card glance-card", id: "today" }, el("h3", {}, t("fa.today")),
      el("p", { class: "big-value" }, t("fa.todaySteps", { n: number(today.today) })),
      today.usual === null ? el("p", { class: "muted" }, t("fa.todayNoUsual")) : [
        el("p", {}, t("fa.usualSteps", { n: number(today.usual) }), verdict ? ` · ${t(verdict)}` : ""),
        el("div", { class: "compare", "aria-hidden": "true" },
          el("span", { class: "today-bar", style: `width:${(100 * today.today) / scale}%` }),
          el("span", { class: "usual-bar", style: `width:${(100 * today.usual) / scale}%` }))]));
  }
  cards.push(el("div", { class: "card glance-card", id: "devices" }, el("h3", {}, t("fa.devices")),
    status.devices.length ? el("ul", { class: "device-list" }, status.devices.map((d) => el("li",
      { class: d.online ? "online" : "offline", "data-kind": d.kind },
      el("span", { class: "device-name" }, label("device", d.kind)),
      el("span", { class: `badge ${d.online ? "ok" : "bad"}` }, t(d.online ? "fa.connected" : "fa.disconnected")),
      d.battery !== null ? el("span", { class: `battery${d.battery < 20 ? " low" : ""}` },
        t("fa.battery", { n: d.battery }), d.charging ? ` · ${t("fa.charging")}` : "") : null)))
      : el("p", { class: "muted" }, t("fa.noDevices"))));
  return el("div", { class: "glance" }, cards);
}

/** Where the resident is, while an alarm is open and only if they consented (the API says nothing otherwise). */
function locationCard(fix) {
  return el("section", { class: "card", id: "location" }, el("h2", {}, t("fa.location")),
    el("p", { class: "big-value" }, fix ? t("fa.locationFix", { time: formatTime(fix.ts, { seconds: false }),
      lat: fix.lat.toFixed(5), lon: fix.lon.toFixed(5), m: Math.round(fix.accuracy_m) }) : t("fa.locationNone")),
    el("p", { class: "muted" }, t("fa.locationNote")));
}

/** The latest home blood pressure and glucose (shown when the resident shares vitals). */
function healthChecksCard(checks) {
  const bp = checks.blood_pressure, glucose = checks.glucose;
  const line = (id, name, value, detail, at) => el("div", { class: "health-check", id },
    el("h4", {}, name), el("p", { class: "big-value" }, value),
    el("p", { class: "muted" }, detail ? `${detail} · ` : "", formatTime(at, { seconds: false })));
  return el("section", { class: "card glance-card", id: "health-checks", "aria-labelledby": "health-checks-heading" },
    el("h3", { id: "health-checks-heading" }, t("fa.checks")),
    bp ? line("latest-bp", t("fa.checks.bp"), t("fa.checks.bpValue", { sys: number(bp.systolic), dia: number(bp.diastolic) }),
      bp.pulse !== null ? t("fa.checks.pulse", { n: number(bp.pulse) }) : "", bp.at) : null,
    glucose ? line("latest-glucose", t("fa.checks.glucose"), t("fa.checks.glucoseValue", { v: number(glucose.mmol_per_l, 1) }),
      t(`fa.meal.${glucose.meal}`), glucose.at) : null,
    bp || glucose ? null : el("p", { class: "muted" }, t("fa.checks.none")));
}

function historyItem(incident) {
  const outcome = incident.outcome ? `fa.outcome.${incident.outcome}`
    : ["resolved", "cancelled"].includes(incident.status) ? "fa.outcome.closed" : "fa.outcome.open";
  const arrived = incident.on_scene_at
    ? Math.max(1, Math.round((Date.parse(incident.on_scene_at) - Date.parse(incident.opened_at)) / 60000)) : null;
  return el("li", { class: `incident${incident.closed_at ? "" : " open"}`, "data-incident-id": incident.id },
    el("div", { class: "row" }, el("strong", { class: "cause" }, label("cause", incident.cause)),
      el("time", { datetime: incident.opened_at }, formatTime(incident.opened_at, { seconds: false }))),
    el("p", { class: "outcome" }, t(outcome)),
    incident.station_name || incident.emergency_service || arrived ? el("p", { class: "muted" },
      [incident.station_name ? t("fa.station", { station: incident.station_name }) : null,
        incident.emergency_service ? t("fa.emergency", { service: label("service", incident.emergency_service) }) : null,
        arrived ? t("fa.arrived", { min: arrived }) : null].filter(Boolean).join(" · ")) : null);
}

/** The chart points of one metric's rollups: a line at each bucket's middle, with its low–high band. */
function linePoints(rollups) {
  return rollups.buckets.map((b) => ({ at: Date.parse(b.bucket) + HOUR / 2, value: b.avg, low: b.min, high: b.max,
    width: HOUR }));
}

/** Steps per hour over a day; per local day over longer ranges. */
function stepPoints(rollups, span) {
  const hourly = rollups.buckets.map((b) => ({ at: Date.parse(b.bucket), value: b.avg * b.n, width: HOUR }));
  if (span <= RANGES["24h"]) return hourly;
  const days = new Map();
  for (const p of hourly) {
    const day = localDate(p.at);
    days.set(day, (days.get(day) || 0) + p.value);
  }
  return [...days].map(([day, value]) => ({ at: dayStart(day), value, width: 24 * HOUR }));
}

function describeLine(points, unit, period) {
  const mean = points.reduce((sum, p) => sum + p.value, 0) / points.length; // of the hourly averages
  return t("fa.desc.line", { ...period, avg: number(mean), min: number(Math.min(...points.map((p) => p.low))),
    max: number(Math.max(...points.map((p) => p.high))), unit });
}

/** The chart figures of one resident over one range. */
/** A departure from the resident's personal baseline, worded from its code and parameters. */
function baselineText(d) {
  const digits = d.feature === "sleep_h" ? 1 : 0;
  const words = t(`fa.baseline.${d.feature}.${d.value >= d.usual ? "up" : "down"}`,
    { change: number(Math.abs(d.value - d.usual), digits), usual: number(d.usual, digits) });
  return d.days > 1 ? t("fa.baseline.days", { words, days: d.days }) : words;
}

/** What changed from their usual, and the daily values of the first change against their usual range. */
function baselineCard(change) {
  const first = change.deviations[0];
  const digits = first.feature === "sleep_h" ? 1 : 0;
  const points = change.series.map((p) => ({ at: dayStart(p.day) + 12 * HOUR, value: p.value,
    low: first.usual - first.spread, high: first.usual + first.spread, width: 24 * HOUR }));
  const start = dayStart(change.series.length ? change.series[0].day : change.day);
  return el("section", { class: "card baseline-card", id: "baseline-change", "aria-labelledby": "baseline-heading" },
    el("h3", { id: "baseline-heading" }, t(change.overall ? "fa.baseline.overall" : "fa.baseline.title")),
    el("ul", { id: "baseline-words" }, change.deviations.map((d) => el("li", { "data-feature": d.feature },
      baselineText(d)))),
    timeChart({ id: "chart-baseline", title: t(`fa.baseline.chart.${first.feature}`), points, start,
      end: dayStart(change.day) + 24 * HOUR, format: (v) => number(v, digits), empty: t("fa.noData"),
      desc: t("fa.baseline.desc", { usual: number(first.usual, digits), value: number(first.value, digits) }) }),
    el("p", { class: "muted" }, t("fa.baseline.basis")));
}

async function chartFigures(resident, rangeKey) {
  const end = Date.now(), span = RANGES[rangeKey], start = end - span;
  const iso = (ms) => new Date(ms).toISOString();
  const period = { from: formatTime(iso(start), { seconds: false }), to: formatTime(iso(end), { seconds: false }) };
  const rollups = (metric) => api(`residents/${resident.resident_id}/vitals/rollups?metric=${metric}`
    + `&start=${encodeURIComponent(iso(start))}&end=${encodeURIComponent(iso(end))}&resolution=1h`);
  const figures = [];
  const figure = (metric, chart, extra) => el("figure", { class: "card chart-card", id: `figure-${metric}` },
    el("figcaption", {}, el("h3", {}, t(`fa.chart.${metric}`)), el("span", { class: "muted" }, t(`fa.unit.${metric}`))),
    chart, extra);
  if (resident.share_vitals) {
    const [heart, spo2] = await Promise.all([rollups("heart_rate"), rollups("spo2")]);
    for (const [metric, data, bounds] of [["heart_rate", heart, {}], ["spo2", spo2, { yMax: 100 }]]) {
      const points = linePoints(data);
      figures.push(figure(metric, timeChart({ id: `chart-${metric}`, title: t(`fa.chart.${metric}`), points, start,
        end, ...bounds, format: (v) => number(v), empty: t("fa.noData"),
        desc: points.length ? describeLine(points, t(`fa.unit.${metric}`), period) : "" })));
    }
  } else {
    figures.push(el("p", { class: "card muted not-shared" }, t("fa.notShared.vitals")));
  }
  if (resident.share_activity) {
    const nights = rangeKey === "24h" ? 1 : Math.round(span / (24 * HOUR));
    const [steps, sleep] = await Promise.all([rollups("steps"),
      api(`family/residents/${resident.resident_id}/sleep?nights=${nights}`)]);
    const stepBars = stepPoints(steps, span);
    const total = stepBars.reduce((sum, p) => sum + p.value, 0);
    figures.push(figure("steps", timeChart({ id: "chart-steps", title: t("fa.chart.steps"), kind: "bars",
      points: stepBars, start, end, format: compact, empty: t("fa.noData"),
      desc: t("fa.desc.bars", { ...period, total: number(total), unit: t("fa.unit.steps"),
        max: number(Math.max(0, ...stepBars.map((p) => p.value))) }) })));
    const known = sleep.nights.filter((n) => n.hours !== null);
    const sleepBars = known.map((n) => (rangeKey === "24h" && n.in_bed_at
      ? { at: Date.parse(n.in_bed_at), width: Date.parse(n.up_at) - Date.parse(n.in_bed_at), value: n.hours }
      : { at: dayStart(n.night_of) - 10 * HOUR, width: 20 * HOUR, value: n.hours }));
    const lastNight = sleep.nights[sleep.nights.length - 1];
    const avg = known.length ? known.reduce((sum, n) => sum + n.hours, 0) / known.length : 0;
    figures.push(figure("sleep", timeChart({ id: "chart-sleep", title: t("fa.chart.sleep"), kind: "bars",
      points: sleepBars, start: rangeKey === "24h" ? start : start - 12 * HOUR, end, yMax: 12,
      format: (v) => number(v), empty: t("fa.noData"),
      desc: t("fa.desc.sleep", { ...period, avg: number(avg, 1) }) }),
    [lastNight?.hours !== null && lastNight?.in_bed_at ? el("p", { id: "last-night" }, t("fa.sleepLast", {
      from: hhmm(lastNight.in_bed_at), to: hhmm(lastNight.up_at), hours: number(lastNight.hours, 1) })) : null,
    el("p", { class: "muted basis" }, t("fa.sleepBasis"))]));
  } else {
    figures.push(el("p", { class: "card muted not-shared" }, t("fa.notShared.activity")));
  }
  return figures;
}

startPage("family", async (main) => {
  main.classList.add("family");
  const residents = await api("family/residents");
  if (!residents.length) {
    main.append(el("p", { class: "card big-note", id: "no-residents" }, t("fa.none")));
    return;
  }
  const wanted = Number(new URLSearchParams(location.hash.slice(1)).get("resident"));
  let resident = residents.find((r) => r.resident_id === wanted) || residents[0];
  let rangeKey = "24h";
  const heading = el("h1", { id: "resident-name" });
  const statusArea = el("div", { id: "status-area" });
  let toldState = null; // the state a screen reader last heard: a change is announced, a redraw is not
  const charts = el("div", { id: "charts", class: "charts" });
  const history = el("section", { id: "history", class: "card history", "aria-labelledby": "history-heading" });
  let services = servicesSection(resident);
  const updated = el("p", { class: "muted updated", id: "updated" });
  const tabs = Object.keys(RANGES).map((key) => el("button", { role: "tab", type: "button", id: `range-${key}`,
    "aria-selected": String(key === rangeKey), "aria-controls": "charts", onclick: () => {
      rangeKey = key;
      for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.id === `range-${key}`));
      showCharts();
    } }, t(`fa.range.${key}`)));

  if (residents.length > 1) {
    const buttons = residents.map((r) => el("button", { type: "button", "data-resident-id": r.resident_id,
      "aria-pressed": String(r === resident), onclick: () => {
        resident = r;
        location.hash = `resident=${r.resident_id}`;
        for (const b of buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.residentId) === r.resident_id));
        showAll();
      } }, r.display_name));
    main.append(el("nav", { id: "resident-pick", class: "resident-pick", "aria-label": t("fa.pick") }, buttons));
  }
  main.append(heading, statusArea, services.section,
    el("section", { class: "trends", "aria-labelledby": "trends-heading" },
      el("h2", { id: "trends-heading" }, t("fa.trends")),
      el("div", { role: "tablist", class: "range-tabs", "aria-label": t("fa.trends") }, tabs), charts),
    history, updated);

  async function showStatus() {
    const shown = resident;
    heading.textContent = shown.display_name + (shown.relation ? t("fa.relation", { relation: relation(shown.relation) }) : "");
    const parts = [];
    if (shown.share_status) {
      const status = await api(`family/residents/${shown.resident_id}/status`);
      parts.push(statusPanel(status), glance(status));
      if (status.baseline) parts.push(baselineCard(status.baseline));
      if (status.health_checks) parts.push(healthChecksCard(status.health_checks));
      if (shown.share_location) {
        const where = await api(`family/residents/${shown.resident_id}/location`);
        if (where.shown) parts.push(locationCard(where.fix));
      }
      if (shown.share_vitals) {
        const meds = await api(`medication/residents/${shown.resident_id}`);
        if (meds.schedules.length) parts.push(medicationCard(meds));
      }
    } else {
      parts.push(el("p", { class: "card muted not-shared" }, t("fa.noStatus")));
    }
    const items = shown.share_incidents ? await api(`family/residents/${shown.resident_id}/incidents`) : null;
    if (shown !== resident) return; // another resident was picked meanwhile
    statusArea.replaceChildren(...parts);
    const state = parts[0]?.dataset.state ?? null;
    if (state && toldState?.resident === shown && state !== toldState.state) announce(t(`fa.state.${state}`));
    toldState = { resident: shown, state };
    history.replaceChildren(el("h2", { id: "history-heading" }, t("fa.history")), items === null
      ? el("p", { class: "muted" }, t("fa.notShared.incidents"))
      : items.length ? el("ol", { id: "incidents", class: "incidents" }, items.map(historyItem))
        : el("p", { class: "muted", id: "no-incidents" }, t("fa.historyNone")));
    updated.textContent = t("fa.updated", { time: formatTime(new Date().toISOString(), { date: false }) });
  }
  async function showCharts() {
    const [shown, range] = [resident, rangeKey];
    try {
      const figures = await chartFigures(shown, range);
      if (shown !== resident || range !== rangeKey) return; // the reader moved on meanwhile
      charts.replaceChildren(...figures);
      charts.dataset.range = range;
    } catch (err) {
      toast(t("error.generic", { detail: err.message }), "error");
    }
  }
  async function showServices() {
    const fresh = servicesSection(resident);
    services.section.replaceWith(fresh.section);
    services = fresh;
    await services.refresh().catch((err) => toast(t("error.generic", { detail: err.message }), "error"));
  }
  async function showAll() {
    await Promise.all([showStatus().catch((err) => toast(t("error.generic", { detail: err.message }), "error")),
      showCharts(), showServices()]);
  }
  setInterval(() => showStatus().catch(() => {}), REFRESH_MS);
  // A phone coming back to this tab asks at once rather than showing a stale state.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") showStatus().catch(() => {});
  });
  await showAll();
});
