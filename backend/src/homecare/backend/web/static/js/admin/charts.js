// Hand-drawn SVG charts for the dashboard: horizontal bars with target marks, and lines over months.
import { svg } from "../svg.js";

function text(x, y, content, attrs = {}) {
  return svg("text", { x, y, ...attrs }, String(content));
}

/**
 * Horizontal bars: bars [{ label, value (null: no data), text, cls, target }], scaled to max; a bar's target is a
 * dashed mark on it, targets [{ value, label }] dashed marks across all bars. Title and desc make it readable by screen readers.
 */
export function barChart({ id, title, bars, max, targets = [], noData = "—", width = 480 }) {
  // Each bar has its label above it, so long station names are never cut.
  const left = 4, right = 90, row = 44, top = targets.length ? 22 : 4;
  const height = top + bars.length * row + 4;
  const plot = width - left - right;
  const scale = (v) => (max > 0 ? Math.max(0, Math.min(1, v / max)) * plot : 0);
  const chart = svg("svg", { id, class: "chart bars", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title, preserveAspectRatio: "xMinYMin meet" }, svg("title", {}, title));
  bars.forEach((bar, i) => {
    const y = top + i * row;
    const missing = bar.value === null || bar.value === undefined;
    chart.append(text(left, y + 12, bar.label, { class: "c-label", "dominant-baseline": "central" }));
    chart.append(svg("rect", { class: "c-track", x: left, y: y + 20, width: plot, height: 18, rx: 3 }));
    if (!missing) {
      chart.append(svg("rect", { class: `c-bar ${bar.cls || ""}`, x: left, y: y + 20, width: scale(bar.value),
        height: 18, rx: 3 }, svg("title", {}, `${bar.label}: ${bar.text}`)));
    }
    chart.append(text(left + plot + 8, y + 29, missing ? noData : bar.text, { class: "c-value",
      "dominant-baseline": "central" }));
    if (bar.target !== undefined) {
      const x = left + scale(bar.target);
      chart.append(svg("line", { class: "c-target", x1: x, x2: x, y1: y + 16, y2: y + 42 }));
    }
  });
  for (const target of targets) {
    const x = left + scale(target.value);
    chart.append(svg("line", { class: "c-target", x1: x, x2: x, y1: top - 4, y2: height - 2 }));
    chart.append(text(x, top - 10, target.label, { class: "c-target-label", "text-anchor": "middle" }));
  }
  return chart;
}

/**
 * Lines over categories (months): series [{ name, values (null: gap), cls }], y from 0 to max, formatted by
 * format(v); targets [{ value, label }] as dashed lines. A legend names the series.
 */
export function lineChart({ id, title, labels, series, max, format, targets = [], width = 520, height = 250 }) {
  const left = 56, right = 16, top = 28, bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (i) => left + (labels.length > 1 ? (i / (labels.length - 1)) * plotW : plotW / 2);
  const y = (v) => top + plotH - Math.max(0, Math.min(1, v / max)) * plotH;
  const chart = svg("svg", { id, class: "chart lines", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title, preserveAspectRatio: "xMinYMin meet" }, svg("title", {}, title));
  for (let step = 0; step <= 4; step += 1) {
    const v = (max * step) / 4;
    chart.append(svg("line", { class: "c-grid", x1: left, x2: left + plotW, y1: y(v), y2: y(v) }));
    chart.append(text(left - 6, y(v), format(v), { class: "c-axis", "text-anchor": "end", "dominant-baseline": "central" }));
  }
  labels.forEach((label, i) => chart.append(text(x(i), height - 12, label, { class: "c-axis", "text-anchor": "middle" })));
  for (const target of targets) {
    chart.append(svg("line", { class: "c-target", x1: left, x2: left + plotW, y1: y(target.value), y2: y(target.value) }));
    chart.append(text(left + plotW, y(target.value) - 6, target.label, { class: "c-target-label", "text-anchor": "end" }));
  }
  const paths = svg("g"), dots = svg("g");
  chart.append(paths, dots);
  series.forEach((line, s) => {
    let d = "";
    line.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d && line.values[i - 1] !== null && line.values[i - 1] !== undefined ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      dots.append(svg("circle", { class: `c-dot ${line.cls}`, cx: x(i), cy: y(v), r: 4 },
        svg("title", {}, `${line.name} · ${labels[i]}: ${format(v)}`)));
    });
    paths.append(svg("path", { class: `c-line ${line.cls}`, d, fill: "none" }));
    const lx = left + s * 200;
    chart.append(svg("rect", { class: `c-key ${line.cls}`, x: lx, y: 6, width: 14, height: 4 }));
    chart.append(text(lx + 20, 9, line.name, { class: "c-legend", "dominant-baseline": "central" }));
  });
  return chart;
}
