// Hand-drawn SVG time charts for the family page: a line with its min–max band, and bars; axis labels in the
// reader's zone; a <title> and a <desc> that say what the chart shows for screen readers.
import { lang, zone } from "../common.js";
import { svg } from "../svg.js";

const W = 360, H = 210, LEFT = 44, RIGHT = 10, TOP = 12, BOTTOM = 30;
const HOUR = 3600e3;

function localParts(ms) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: zone(), hour: "2-digit", hourCycle: "h23", day: "numeric" })
    .formatToParts(new Date(ms));
  return { hour: Number(parts.find((p) => p.type === "hour").value), day: Number(parts.find((p) => p.type === "day").value) };
}

/** Tick instants between start and end at local whole hours: every 6 h over a day, midnights over longer spans. */
function ticks(start, end) {
  const span = end - start, found = [];
  const dayStep = span > 10 * 24 * HOUR ? 5 : 1;
  let dayCount = 0;
  for (let at = Math.ceil(start / HOUR) * HOUR; at <= end; at += HOUR) {
    const { hour } = localParts(at);
    if (span <= 36 * HOUR ? hour % 6 === 0 : hour === 0 && dayCount++ % dayStep === 0) found.push(at);
  }
  return found;
}

function tickLabel(at, span) {
  const options = span <= 36 * HOUR ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
    : { month: "numeric", day: "numeric" };
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", { timeZone: zone(), ...options })
    .format(new Date(at));
}

/** The least round step (1, 2 or 5 times a power of ten, and at least ``least``) at or above ``raw``. */
function niceStep(raw, least) {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, least)));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= raw - 1e-9 && m >= least - 1e-9);
}

/** Round steps (at most six) that hold every value: from 0 for bars, around the data for lines; ``top`` caps a
 * line (SpO2 never passes 100) and is the least top of bars (a night's scale reaches 12 hours). Counts, beats and
 * hours step by whole numbers at least. Returns [low, high, step]. */
function scale(values, kind, top) {
  const lo = kind === "bars" ? 0 : Math.min(...values), hi = Math.max(...values, lo + 1);
  let step = niceStep((hi - lo) / 6, 1);
  while (Math.floor(lo / step) * step + 6 * step < hi) step = niceStep(step * 1.01, 1);
  const low = Math.floor(lo / step) * step;
  const high = Math.max(low + step, Math.ceil(hi / step) * step);
  return kind === "line" && top !== undefined && high > top ? [top - (high - low), top, step] : [low, high, step];
}

/**
 * A time chart. points: [{ at (ms), value, low?, high?, width? (ms) }]; kind "line" (with the low–high band)
 * or "bars" (from at for width); yMax is the top of the scale (a ceiling for lines); format(v) labels values.
 */
export function timeChart({ id, title, desc, points, start, end, kind = "line", yMax, format = String, empty }) {
  const titleId = `${id}-title`, descId = `${id}-desc`;
  const chart = svg("svg", { id, class: `chart ${kind}`, viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-labelledby": `${titleId} ${descId}`, preserveAspectRatio: "xMidYMid meet" },
  svg("title", { id: titleId }, title), svg("desc", { id: descId }, points.length ? desc : empty));
  const values = points.flatMap((p) => [p.value, p.low ?? p.value, p.high ?? p.value]);
  const [low, high, step] = points.length ? scale(yMax === undefined ? values : [...values, yMax], kind, yMax)
    : [0, 4, 1];
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
  const x = (at) => LEFT + ((at - start) / (end - start)) * plotW;
  const y = (v) => TOP + (1 - (v - low) / (high - low)) * plotH;
  for (let v = low; v <= high + step / 2; v += step) {
    chart.append(svg("line", { class: "grid", x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v) }),
      svg("text", { class: "axis", x: LEFT - 6, y: y(v), "text-anchor": "end", "dominant-baseline": "central" },
        format(v)));
  }
  for (const at of ticks(start, end)) {
    chart.append(svg("line", { class: "tick", x1: x(at), x2: x(at), y1: TOP + plotH, y2: TOP + plotH + 5 }),
      svg("text", { class: "axis", x: x(at), y: H - 8, "text-anchor": "middle" }, tickLabel(at, end - start)));
  }
  if (!points.length) {
    chart.append(svg("text", { class: "no-data", x: LEFT + plotW / 2, y: TOP + plotH / 2, "text-anchor": "middle" },
      empty));
    return chart;
  }
  if (kind === "bars") {
    for (const p of points.filter((point) => point.value > 0)) {
      const from = x(Math.max(p.at, start)), to = x(Math.min(p.at + p.width, end));
      chart.append(svg("rect", { class: "bar", x: from + 1, y: y(p.value), width: Math.max(2, to - from - 2),
        height: Math.max(0, y(low) - y(p.value)), rx: 2 }));
    }
    return chart;
  }
  // The band and the line break where an hour has no data (more than 1.5 buckets apart).
  const runs = [];
  points.forEach((p, i) => {
    if (i === 0 || p.at - points[i - 1].at > 1.5 * (p.width || HOUR)) runs.push([]);
    runs[runs.length - 1].push(p);
  });
  for (const run of runs) {
    const top = run.map((p) => `${x(p.at)},${y(p.high ?? p.value)}`);
    const bottom = run.slice().reverse().map((p) => `${x(p.at)},${y(p.low ?? p.value)}`);
    chart.append(svg("polygon", { class: "band", points: [...top, ...bottom].join(" ") }));
    if (run.length === 1) chart.append(svg("circle", { class: "dot", cx: x(run[0].at), cy: y(run[0].value), r: 3 }));
    else chart.append(svg("polyline", { class: "line", points: run.map((p) => `${x(p.at)},${y(p.value)}`).join(" ") }));
  }
  return chart;
}

/** How far the reader's zone is ahead of UTC at an instant, in ms. */
function offsetAt(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: zone(), hourCycle: "h23",
    year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" })
    .formatToParts(new Date(ms)).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - (ms - (ms % 1000));
}

/** The instant of a local date (YYYY-MM-DD) and time (HH:MM) in the reader's zone. */
export function localInstant(date, time) {
  const guess = Date.parse(`${date}T${time}:00Z`);
  return guess - offsetAt(guess - offsetAt(guess));
}

/** The instant a local date (YYYY-MM-DD) begins in the reader's zone. */
export function dayStart(date) {
  return localInstant(date, "00:00");
}

/** The local time (HH:MM) of an instant in the reader's zone. */
export function localTime(ms) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: zone(), hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .format(new Date(ms));
}

/** The local date (YYYY-MM-DD) of an instant in the reader's zone. */
export function localDate(ms) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone(), year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date(ms));
}
