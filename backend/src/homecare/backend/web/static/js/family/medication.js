// The family page's medicines section: what the resident takes, 30-day adherence, and what became of each recent dose.
import { addStrings, el, formatTime, lang, t } from "../common.js";

addStrings({
  zh: {
    "fa.meds": "服药", "fa.meds.adherence": "近 30 天确认服药 {confirmed}/{due} 次（{pct}）",
    "fa.meds.noneDue": "近 30 天还没有到时的服药", "fa.meds.schedules": "药品", "fa.meds.recent": "最近 7 天",
    "fa.meds.times": "每天 {times}", "fa.meds.withFood": "随餐", "fa.meds.withoutFood": "空腹",
    "fa.meds.taken": "已服药，{time} 确认（{by}）", "fa.meds.by.home_unit": "家庭主机按键",
    "fa.meds.by.pill_dispenser": "智能药盒", "fa.meds.pending": "等待老人确认",
    "fa.meds.missed": "未确认服药", "fa.meds.familyTold": "{time} 已通知家属", "fa.meds.nobodyTold": "没有可通知的家属邮箱",
    "fa.meds.stationTold": "{time} 已通知服务站", "fa.meds.stopped": "已停用", "fa.meds.noDoses": "最近 7 天没有到时的服药",
  },
  en: {
    "fa.meds": "Medicines", "fa.meds.adherence": "Confirmed taken {confirmed} of {due} doses in 30 days ({pct})",
    "fa.meds.noneDue": "No dose has come due in the last 30 days", "fa.meds.schedules": "Medicines",
    "fa.meds.recent": "Last 7 days", "fa.meds.times": "daily at {times}", "fa.meds.withFood": "with food",
    "fa.meds.withoutFood": "without food", "fa.meds.taken": "Taken, confirmed at {time} ({by})",
    "fa.meds.by.home_unit": "home unit button", "fa.meds.by.pill_dispenser": "pill dispenser",
    "fa.meds.pending": "Waiting for the resident to confirm", "fa.meds.missed": "Not confirmed taken",
    "fa.meds.familyTold": "family told at {time}", "fa.meds.nobodyTold": "no family e-mail address to tell",
    "fa.meds.stationTold": "station told at {time}", "fa.meds.stopped": "stopped",
    "fa.meds.noDoses": "No dose came due in the last 7 days",
  },
});

const when = (iso) => formatTime(iso, { seconds: false });
const percent = (share) => new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en-GB", { style: "percent" }).format(share);

function scheduleLine(s) {
  const food = s.with_food === null ? null : t(s.with_food ? "fa.meds.withFood" : "fa.meds.withoutFood");
  const times = s.times.map((time) => time.slice(0, 5)).join(", ");
  return el("li", { "data-schedule-id": s.id }, el("strong", {}, `${s.medicine} ${s.dose}`), " · ",
    [t("fa.meds.times", { times }), food, s.stopped_at ? t("fa.meds.stopped") : null].filter(Boolean).join(" · "));
}

function doseLine(d) {
  const facts = [];
  if (d.state === "taken") facts.push(t("fa.meds.taken", { time: when(d.confirmed_at), by: t(`fa.meds.by.${d.confirmed_by}`) }));
  else facts.push(t(d.state === "missed" ? "fa.meds.missed" : "fa.meds.pending"));
  if (d.family_told_at) facts.push(d.family_told ? t("fa.meds.familyTold", { time: when(d.family_told_at) }) : t("fa.meds.nobodyTold"));
  if (d.station_told_at) facts.push(t("fa.meds.stationTold", { time: when(d.station_told_at) }));
  return el("li", { class: `dose dose-${d.state}`, "data-state": d.state },
    el("div", { class: "row" }, el("strong", {}, `${d.medicine} ${d.dose}`), el("time", { datetime: d.due_at }, when(d.due_at))),
    el("p", { class: d.state === "missed" ? "dose-missed-words" : "muted" }, facts.join(" · ")));
}

/** The medicines card (shown when the resident shares vitals and takes something). */
export function medicationCard(meds) {
  const a = meds.adherence;
  return el("section", { class: "card glance-card", id: "medication", "aria-labelledby": "medication-heading" },
    el("h3", { id: "medication-heading" }, t("fa.meds")),
    el("p", { class: "big-value", id: "adherence" }, a.due
      ? t("fa.meds.adherence", { confirmed: a.confirmed, due: a.due, pct: percent(a.share) }) : t("fa.meds.noneDue")),
    el("h4", {}, t("fa.meds.schedules")), el("ul", { class: "med-schedules" }, meds.schedules.map(scheduleLine)),
    el("h4", {}, t("fa.meds.recent")), meds.recent.length
      ? el("ol", { id: "doses", class: "doses" }, meds.recent.slice(0, 14).map(doseLine))
      : el("p", { class: "muted" }, t("fa.meds.noDoses")));
}
