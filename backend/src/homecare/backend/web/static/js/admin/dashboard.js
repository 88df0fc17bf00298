// The dashboard: the plan's figures (answering within 60 s / 180 s, the escalation policy's targets; time to
// acknowledge and to on-scene; homes outside the 15-minute circle; welfare visits; medication adherence per station
// and resident) as numbers and SVG charts, with CSV downloads, for a chosen period.
import { api, el, formatTime, t, zone } from "../common.js";
import { barChart, lineChart } from "./charts.js";
import { field, input, section, table } from "./ui.js";

const TREND_MONTHS = 6;

/** YYYY-MM-DD of a date in the user's zone. */
function localDay(date = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone(), year: "numeric", month: "2-digit", day: "2-digit" })
    .format(date);
}

function addDays(day, n) {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The instant a local day starts in a time zone (ISO, UTC). */
function dayStart(day, tz) {
  const noonUtc = new Date(`${day}T12:00:00Z`);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(noonUtc).map((p) => [p.type, p.value]));
  const shown = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  const offset = shown - noonUtc.getTime();
  return new Date(Date.parse(`${day}T00:00:00Z`) - offset).toISOString();
}

/** Per station (by name, residents without one last): a total line, then its residents, lowest adherence first. */
function adherenceLines(figures) {
  const stations = new Map();
  for (const f of figures) {
    const key = f.station_id ?? 0;
    if (!stations.has(key)) stations.set(key, { name: f.station_name, residents: [] });
    stations.get(key).residents.push(f);
  }
  const share = (due, confirmed) => (due ? confirmed / due : null);
  return [...stations.values()]
    .sort((a, b) => (a.name === null) - (b.name === null) || (a.name || "").localeCompare(b.name || ""))
    .flatMap((s) => {
      const due = s.residents.reduce((n, f) => n + f.due, 0);
      const confirmed = s.residents.reduce((n, f) => n + f.confirmed, 0);
      const residents = [...s.residents].sort((a, b) => (a.share ?? 2) - (b.share ?? 2));
      return [{ total: true, station_name: s.name, due, confirmed, share: share(due, confirmed) }, ...residents];
    });
}

function lastDay(month) {
  const [y, m] = month.split("-").map(Number);
  return `${month}-${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, "0")}`;
}

function monthsBack(month, n) {
  const [y, m] = month.split("-").map(Number);
  return Array.from({ length: n }, (_, i) => {
    const d = new Date(Date.UTC(y, m - 1 - (n - 1 - i), 1));
    return d.toISOString().slice(0, 7);
  });
}

export const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);
export const secs = (v) => {
  if (v === null || v === undefined) return "—";
  return v < 120 ? t("adm.s", { n: Math.round(v) }) : t("adm.min", { n: (v / 60).toFixed(1) });
};

function figure(id, label, value, { good, note } = {}) {
  const status = good === undefined || good === null ? "" : good ? "ok" : "bad";
  return el("div", { class: `figure ${status}`, id },
    el("span", { class: "figure-label" }, label),
    el("strong", { class: "figure-value" }, value),
    status ? el("span", { class: `badge ${status}` }, t(good ? "adm.meets" : "adm.misses")) : null,
    note ? el("span", { class: "figure-note muted" }, note) : null);
}

function csvLink(id, path, params, label) {
  return el("a", { id, class: "button csv", href: `/api/reports/${path}?${new URLSearchParams(params)}`,
    download: "" }, `↓ ${label}`);
}

export async function dashboard(panel) {
  const today = localDay();
  const state = { start: addDays(today, -29), end: today, month: today.slice(0, 7) };
  const start = input({ type: "date", id: "dash-start", value: state.start, max: today });
  const end = input({ type: "date", id: "dash-end", value: state.end, max: today });
  const month = input({ type: "month", id: "dash-month", value: state.month, max: state.month });
  const body = el("div", { id: "dash-body", class: "dash-body" });
  const picker = el("form", { class: "card row dash-picker", id: "dash-range" },
    field("start", t("adm.dash.start"), start), field("end", t("adm.dash.end"), end),
    field("month", t("adm.dash.month"), month),
    el("button", { class: "primary", type: "submit", id: "dash-apply" }, t("adm.dash.apply")),
    el("span", { class: "muted" }, t("adm.dash.zone", { zone: zone() })));
  picker.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { start: start.value || state.start, end: end.value || state.end,
      month: month.value || state.month });
    draw();
  });
  panel.append(el("h1", {}, t("adm.tab.dashboard")), picker, body);

  async function draw() {
    body.replaceChildren(el("p", { class: "muted" }, t("adm.loading")));
    const tz = zone();
    const range = { start: state.start, end: state.end, tz };
    const months = monthsBack(state.month, TREND_MONTHS);
    const adherencePeriod = { since: dayStart(state.start, tz),
      until: new Date(Math.min(Date.parse(dayStart(addDays(state.end, 1), tz)), Date.now())).toISOString() };
    const [times, coverage, devices, welfare, stations, trend, checks, quality, adherence] = await Promise.all([
      api(`reports/response-times?${new URLSearchParams(range)}`),
      api("stations/coverage"),
      api(`reports/coverage?${new URLSearchParams({ tz })}`),
      api(`reports/welfare-visits?${new URLSearchParams({ month: state.month, tz })}`),
      api("admin/stations"),
      Promise.all(months.map(async (m) => {
        const last = lastDay(m) > today ? today : lastDay(m);
        const [rt, wv] = await Promise.all([
          api(`reports/response-times?${new URLSearchParams({ start: `${m}-01`, end: last, tz })}`),
          api(`reports/welfare-visits?${new URLSearchParams({ month: m, tz })}`)]);
        return { month: m, within60: rt.acknowledge.share_within_60s, welfare: wv.rate };
      })),
      api(`reports/health-management?${new URLSearchParams(range)}`),
      api(`reports/service-quality?${new URLSearchParams({ month: state.month, tz })}`),
      api(`medication/adherence?${new URLSearchParams(adherencePeriod)}`),
    ]).catch((err) => {
      body.replaceChildren(el("p", { class: "form-error", role: "alert" }, t("error.generic", { detail: err.message })));
      return [];
    });
    if (!times) return;
    const ack = times.acknowledge;
    const stationName = new Map(stations.map((s) => [s.id, s.name]));
    const pctFmt = (v) => `${Math.round(v * 100)} %`;
    // The answer targets are the escalation policy's, as the report gives them (60 s and 180 s when shipped).
    const shareOf = (v) => String(Math.round(v * 1000) / 10);
    const answer = { s: ack.answer_target_s };
    const limit = { s: ack.answer_limit_s };
    const within60 = t("adm.dash.within60", answer), within180 = t("adm.dash.within180", limit);
    const explain = t("adm.dash.ackExplain", { share: shareOf(ack.target_within_60s), s: answer.s,
      limitShare: shareOf(ack.target_within_180s), limitS: limit.s });

    const dosesDue = adherence.reduce((n, f) => n + f.due, 0);
    const dosesTaken = adherence.reduce((n, f) => n + f.confirmed, 0);
    const figures = el("div", { class: "figures" },
      figure("fig-alarms", t("adm.dash.alarms"), String(ack.counted),
        { note: t("adm.dash.alarmsNote", { alarms: ack.alarms, withdrawn: ack.withdrawn, ...answer }) }),
      figure("fig-within60", within60, pct(ack.share_within_60s),
        { good: ack.meets_60s_target, note: t("adm.dash.target", { v: pct(ack.target_within_60s) }) }),
      figure("fig-within180", within180, pct(ack.share_within_180s),
        { good: ack.meets_180s_target, note: t("adm.dash.target", { v: pct(ack.target_within_180s) }) }),
      figure("fig-median", t("adm.dash.median"), secs(ack.median_s)),
      figure("fig-p90", t("adm.dash.p90"), secs(ack.p90_s)),
      figure("fig-onscene", t("adm.dash.onScene"), secs(times.on_scene.median_s),
        { note: t("adm.dash.p90is", { v: secs(times.on_scene.p90_s) }) }),
      figure("fig-outside", t("adm.dash.outside"), String(coverage.outside.length),
        { good: coverage.residents_located ? coverage.outside.length === 0 : null,
          note: t("adm.dash.outsideNote", { covered: pct(coverage.share_covered), min: coverage.threshold_min }) }),
      figure("fig-welfare", t("adm.dash.welfare"), pct(welfare.rate),
        { good: welfare.meets_target, note: t("adm.dash.welfareNote", { visited: welfare.visited,
          vulnerable: welfare.vulnerable, month: welfare.month }) }),
      figure("fig-health", t("adm.dash.health"), pct(checks.rate),
        { good: checks.meets_target, note: t("adm.dash.healthNote", { checked: checks.checked,
          residents: checks.residents, target: pct(checks.target) }) }),
      figure("fig-adherence", t("adm.dash.adherence"), pct(dosesDue ? dosesTaken / dosesDue : null),
        { note: t("adm.dash.adherenceNote", { confirmed: dosesTaken, due: dosesDue, residents: adherence.length }) }),
      figure("fig-devices", t("adm.dash.devicesOnline"), pct(devices.share_covered),
        { note: t("adm.dash.devicesNote", { covered: devices.covered, enrolled: devices.enrolled,
          online: devices.online_now }) }));

    const ackChart = barChart({
      id: "chart-ack", title: t("adm.dash.ackChart"), max: 1, noData: t("adm.dash.noAlarms"),
      bars: [
        { label: `${within60} · ${t("adm.dash.target", { v: pct(ack.target_within_60s) })}`,
          value: ack.share_within_60s, text: pct(ack.share_within_60s), target: ack.target_within_60s,
          cls: ack.meets_60s_target === false ? "bad" : "ok" },
        { label: `${within180} · ${t("adm.dash.target", { v: pct(ack.target_within_180s) })}`,
          value: ack.share_within_180s, text: pct(ack.share_within_180s), target: ack.target_within_180s,
          cls: ack.meets_180s_target === false ? "bad" : "ok" },
      ],
    });
    const groups = times.by_station;
    const slowest = Math.max(60, ...groups.flatMap((g) => [g.median_on_scene_s || 0, g.p90_on_scene_s || 0]));
    const onSceneChart = barChart({
      id: "chart-onscene", title: t("adm.dash.onSceneChart"), max: Math.max(slowest, 900),
      noData: t("adm.dash.noVisits"),
      bars: groups.flatMap((g) => [
        { label: `${g.key} · ${t("adm.dash.medianShort")}`, value: g.median_on_scene_s, text: secs(g.median_on_scene_s),
          cls: g.median_on_scene_s > 900 ? "bad" : "ok" },
        { label: `${g.key} · P90`, value: g.p90_on_scene_s, text: secs(g.p90_on_scene_s), cls: "alt" },
      ]),
      targets: [{ value: 900, label: t("adm.min", { n: 15 }) }],
    });
    const trendChart = lineChart({
      id: "chart-trend", title: t("adm.dash.trendChart"), labels: trend.map((p) => p.month.slice(2)), max: 1,
      format: pctFmt,
      series: [
        { name: within60, values: trend.map((p) => p.within60), cls: "s1" },
        { name: t("adm.dash.welfare"), values: trend.map((p) => p.welfare), cls: "s2" },
      ],
      targets: [{ value: ack.target_within_60s, label: pct(ack.target_within_60s) }],
    });

    const downloads = el("div", { class: "row downloads" },
      csvLink("csv-breaches", "response-times/breaches.csv", range, t("adm.dash.csvBreaches")),
      csvLink("csv-stations", "response-times/by-station.csv", range, t("adm.dash.csvStations")),
      csvLink("csv-operators", "response-times/by-operator.csv", range, t("adm.dash.csvOperators")),
      csvLink("csv-coverage", "coverage/gaps.csv", { tz }, t("adm.dash.csvCoverage")),
      csvLink("csv-welfare", "welfare-visits/not-visited.csv", { month: state.month, tz }, t("adm.dash.csvWelfare")),
      csvLink("csv-service", "service-quality.csv", { month: state.month, tz }, t("adm.dash.csvService")));

    body.replaceChildren(
      el("p", { class: "muted", id: "dash-period" }, t("adm.dash.period", { start: times.period.start_date,
        end: times.period.end_date, zone: times.period.timezone, at: formatTime(new Date().toISOString()) })),
      figures,
      el("div", { class: "charts" },
        section(t("adm.dash.ackChart"), ackChart, el("p", { class: "muted" }, explain)),
        section(t("adm.dash.onSceneChart"), groups.some((g) => g.on_scene) ? onSceneChart
          : el("p", { class: "muted", id: "chart-onscene" }, t("adm.dash.noOnScene"))),
        section(t("adm.dash.trendChart"), trendChart)),
      section(t("adm.dash.service", { month: quality.month }), table([
        [t("adm.dash.provider"), (f) => (f.provider_total ? el("strong", {}, f.station_name) : f.station_name)],
        [t("adm.dash.carer"), (f) => (f.provider_total ? t("adm.dash.allCarers") : f.carer_name || t("adm.dash.noCarer"))],
        [t("adm.dash.visits"), (f) => String(f.visits)],
        [t("adm.dash.late"), (f) => (f.late && f.late_min_avg !== null
          ? t("adm.dash.lateAvg", { n: f.late, min: Math.round(f.late_min_avg) }) : String(f.late))],
        [t("adm.dash.short"), (f) => String(f.short)],
        [t("adm.dash.missed"), (f) => String(f.missed)],
        [t("adm.dash.onTime"), (f) => pct(f.on_time_rate)],
        [t("adm.dash.rating"), (f) => (f.rating_avg === null ? "—"
          : t("adm.dash.ratingAvg", { avg: f.rating_avg.toFixed(1), n: f.ratings }))],
        [t("adm.dash.complaints"), (f) => String(f.complaints)],
      ], quality.lines, { id: "service-table", empty: t("adm.dash.noService") })),
      section(t("adm.dash.adherenceTable"), el("p", { class: "muted" }, t("adm.dash.adherenceExplain")), table([
        [t("adm.res.station"), (f) => (f.total ? el("strong", {}, f.station_name || t("adm.res.noStation")) : "")],
        [t("adm.res.name"), (f) => (f.total ? el("strong", {}, t("adm.dash.allResidents")) : f.display_name)],
        [t("adm.dash.dosesTaken"), (f) => t("adm.dash.dosesOf", { confirmed: f.confirmed, due: f.due })],
        [t("adm.dash.adherence"), (f) => (f.total ? el("strong", {}, pct(f.share)) : pct(f.share))],
      ], adherenceLines(adherence), { id: "adherence-table", empty: t("adm.dash.noDoses") })),
      section(t("adm.dash.downloads"), downloads),
      section(t("adm.dash.outsideList"), table([
        [t("adm.res.name"), (h) => h.display_name],
        [t("adm.dash.nearest"), (h) => stationName.get(h.nearest_station_id) || "—"],
        [t("adm.dash.travel"), (h) => (h.travel_min === null ? "—" : t("adm.min", { n: h.travel_min.toFixed(1) }))],
      ], coverage.outside, { id: "outside-table", empty: t("adm.dash.allInside") })),
      section(t("adm.dash.breaches"), table([
        [t("adm.dash.alarmAt"), (b) => formatTime(b.alarm_at)],
        [t("adm.res.name"), (b) => b.resident_name],
        [t("adm.dash.wait"), (b) => secs(b.wait_s)],
        [t("adm.dash.ackBy"), (b) => b.acknowledged_by_name || b.acknowledged_by || t("adm.dash.never")],
        [t("adm.res.station"), (b) => b.station_name || "—"],
      ], times.breaches.slice(-20).reverse(), { id: "breaches-table", empty: t("adm.dash.noBreaches", answer) })));
  }

  await draw();
}
