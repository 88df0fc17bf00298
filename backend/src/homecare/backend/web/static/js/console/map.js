// The map tab: homes, stations with their 15-minute circles and open incidents, drawn from stored coordinates
// (equirectangular projection around the centre, in metres; no tiles).
import { el, t } from "../common.js";
import { label } from "../labels.js";
import { svg } from "../svg.js";

const M_PER_DEG = 111_320;

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
  for (const s of view.stations) {
    const [x, y] = project(s);
    circles.append(svg("circle", { cx: x, cy: y, r, class: s.available_now ? "circle" : "circle off" }));
    const size = unit * 3.2;
    stations.append(svg("g", { class: `m-station${s.available_now ? "" : " off"}`, "data-station": s.id },
      svg("title", {}, `${s.name} · ${t("map.tasks", { a: s.active_tasks, c: s.capacity })}`),
      svg("rect", { x: x - size / 2, y: y - size / 2, width: size, height: size, rx: unit * 0.4 }),
      svg("text", { x, y: y - size, "font-size": unit * 3.4, "text-anchor": "middle" }, s.name)));
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
    svg("circle", { cx: x, cy: y, r: unit * 1.6, class: "dot" }),
    svg("text", { x: x + unit * 4, y: y + unit * 1.1, "font-size": unit * 2.8 },
      open.length > 1 ? `${home.name} ×${open.length}` : home.name));
    marker.addEventListener("click", go);
    marker.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
    alarms.append(marker);
  }
  const drawing = svg("svg", { id: "map-svg", class: "map", role: "img", "aria-label": t("map.heading"),
    viewBox: `${minX - margin} ${minY - margin} ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" },
  circles, marks, stations, alarms);
  const km = (r / 1000).toFixed(1);
  const legend = el("ul", { class: "map-legend" },
    el("li", {}, el("span", { class: "key home" }), t("map.home")),
    el("li", {}, el("span", { class: "key station" }), t("map.station")),
    el("li", {}, el("span", { class: "key circle" }), t("map.circle", { km })),
    el("li", {}, el("span", { class: "key off" }), t("map.off")),
    el("li", {}, el("span", { class: "key incident" }), `${t("map.incident")} (${view.incidents.length})`));
  container.replaceChildren(el("h2", {}, t("map.heading")), drawing, legend);
}
