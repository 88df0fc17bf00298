// The map tab: homes, stations with their 15-minute circles and open incidents, drawn from stored coordinates
// (equirectangular projection around the centre, in metres; no tiles).
import { el, t } from "../common.js";
import { label } from "../labels.js";
import { svg } from "../svg.js";

const M_PER_DEG = 111_320;

/** The box a label of `size` would take (CJK characters are square, others about half as wide). */
function labelBox(text, size, x, y, anchor) {
  const width = [...text].reduce((w, c) => w + (/[\u2e80-\uffff]/.test(c) ? 1 : 0.6), 0) * size;
  const left = anchor === "end" ? x - width : anchor === "middle" ? x - width / 2 : x;
  return { x1: left, x2: left + width, y1: y - size * 0.9, y2: y + size * 0.25 };
}

const overlaps = (a, b) => a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;

/**
 * Place labels so none covers another or a mark: each label ({ text, size, x, y, gap, node }) tries the right,
 * left, above and below of its point, most important first; one with no free place is left off (its mark keeps
 * the name in its tooltip).
 */
function placeLabels(labels, marks) {
  const taken = [...marks];
  for (const label of labels) {
    const { text, size, x, y, gap } = label;
    const spots = [[x + gap, y + size * 0.35, "start"], [x - gap, y + size * 0.35, "end"],
      [x, y - gap, "middle"], [x, y + gap + size * 0.8, "middle"]];
    const spot = spots.find(([sx, sy, anchor]) => !taken.some((box) => overlaps(box, labelBox(text, size, sx, sy, anchor))));
    if (!spot) continue;
    const [sx, sy, anchor] = spot;
    taken.push(labelBox(text, size, sx, sy, anchor));
    label.node.append(svg("text", { x: sx, y: sy, "font-size": size, "text-anchor": anchor }, text));
  }
}

/** Draw the map of `view` (GET /api/map) into container; onIncident(id) when an incident is clicked. */
export function drawMap(container, view, { onIncident }) {
  const points = [...view.stations, ...view.homes];
  if (!points.length) {
    container.replaceChildren(el("p", { class: "muted" }, "—"));
    return;
  }
  const lat0 = (Math.min(...points.map((p) => p.lat)) + Math.max(...points.map((p) => p.lat))) / 2;
  const lon0 = (Math.min(...points.map((p) => p.lon)) + Math.max(...points.map((p) => p.lon))) / 2;
  const kx = Math.cos((lat0 * Math.PI) / 180) * M_PER_DEG;
  const project = (p) => [(p.lon - lon0) * kx, -(p.lat - lat0) * M_PER_DEG];
  const r = view.radius_m;
  const xs = [], ys = [];
  for (const s of view.stations) { const [x, y] = project(s); xs.push(x - r, x + r); ys.push(y - r, y + r); }
  for (const h of view.homes) { const [x, y] = project(h); xs.push(x); ys.push(y); }
  const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
  const margin = Math.max(maxX - minX, maxY - minY) * 0.03;
  const width = maxX - minX + 2 * margin, height = maxY - minY + 2 * margin;
  const unit = Math.max(width, height) / 160; // one "pixel" of a 160-wide drawing, for marks that stay readable
  const homes = new Map(view.homes.map((h) => [h.resident_id, h]));

  const circles = svg("g", { class: "m-circles" }), marks = svg("g", { class: "m-homes" });
  const stations = svg("g", { class: "m-stations" }), alarms = svg("g", { class: "m-incidents" });
  const stationLabels = [], incidentLabels = [], markBoxes = [];
  for (const s of view.stations) {
    const [x, y] = project(s);
    circles.append(svg("circle", { cx: x, cy: y, r, class: s.available_now ? "circle" : "circle off" }));
    const size = unit * 3.2;
    const node = svg("g", { class: `m-station${s.available_now ? "" : " off"}`, "data-station": s.id },
      svg("title", {}, `${s.name} · ${t("map.tasks", { a: s.active_tasks, c: s.capacity })}`),
      svg("rect", { x: x - size / 2, y: y - size / 2, width: size, height: size, rx: unit * 0.4 }));
    stations.append(node);
    markBoxes.push({ x1: x - size / 2, x2: x + size / 2, y1: y - size / 2, y2: y + size / 2 });
    stationLabels.push({ text: s.name, size: unit * 3.4, x, y, gap: size, node });
  }
  for (const h of view.homes) {
    const [x, y] = project(h);
    marks.append(svg("circle", { cx: x, cy: y, r: unit * 0.9, class: "m-home" }, svg("title", {}, h.name)));
  }
  // One marker per home, for its most urgent open incident (the list arrives most urgent first).
  const byHome = new Map();
  for (const incident of view.incidents) {
    if (!homes.has(incident.resident_id)) continue;
    if (!byHome.has(incident.resident_id)) byHome.set(incident.resident_id, []);
    byHome.get(incident.resident_id).push(incident);
  }
  for (const [residentId, open] of byHome) {
    const home = homes.get(residentId), first = open[0];
    const [x, y] = project(home);
    const go = () => onIncident(first.id);
    const what = open.map((i) => `${label("cause", i.cause)} · ${label("status", i.status)}`).join("\n");
    const marker = svg("g", { class: `m-incident p${first.priority} s-${first.status}`, tabindex: 0, role: "button",
      "data-incident": first.id, "aria-label": `${home.name}: ${label("cause", first.cause)}` },
    svg("title", {}, `${home.name}\n${what}`),
    svg("circle", { cx: x, cy: y, r: unit * 3.6, class: "halo" }),
    svg("circle", { cx: x, cy: y, r: unit * 1.6, class: "dot" }));
    markBoxes.push({ x1: x - unit * 1.6, x2: x + unit * 1.6, y1: y - unit * 1.6, y2: y + unit * 1.6 });
    incidentLabels.push({ text: open.length > 1 ? `${home.name} ×${open.length}` : home.name, size: unit * 2.8, x, y,
      gap: unit * 4, node: marker });
    marker.addEventListener("click", go);
    marker.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
    alarms.append(marker);
  }
  placeLabels([...incidentLabels, ...stationLabels], markBoxes);
  // A group, not an image: the incident markers inside it take the focus.
  const drawing = svg("svg", { id: "map-svg", class: "map", role: "group", "aria-label": t("map.heading"),
    viewBox: `${minX - margin} ${minY - margin} ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" },
  circles, marks, stations, alarms);
  const km = (r / 1000).toFixed(1);
  const legend = el("ul", { class: "map-legend" },
    el("li", {}, el("span", { class: "key home" }), t("map.home")),
    el("li", {}, el("span", { class: "key station" }), t("map.station")),
    el("li", {}, el("span", { class: "key circle" }), t("map.circle", { km })),
    el("li", {}, el("span", { class: "key off" }), t("map.off")),
    el("li", {}, el("span", { class: "key incident" }), `${t("map.incident")} (${view.incidents.length})`));
  container.replaceChildren(el("h1", { class: "map-heading" }, t("map.heading")), drawing, legend);
}
