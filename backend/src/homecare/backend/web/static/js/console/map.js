// The map tab: homes, stations with their 15-minute circles and open incidents, drawn from stored coordinates
// (equirectangular projection around the centre, in metres), with the track and safe zones of every open wandering
// alarm; the incident screen draws one track on its own with the same layer. Street tiles go underneath only when
// an administrator set a tile server (HOMECARE_MAP_TILE_URL): without one the map works offline, as drawn.
import { el, formatTime, t } from "../common.js";
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

const TILES_ACROSS = 4; // tiles across the drawing's width: the zoom follows the area shown
const MAX_TILES = 64;

/** Web Mercator: the tile column and row of a point at zoom z, and a tile corner's longitude and latitude. */
const tileX = (lon, n) => Math.floor(((lon + 180) / 360) * n);
const tileY = (lat, n) => {
  const r = (lat * Math.PI) / 180;
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
};
const tileLon = (x, n) => (x / n) * 360 - 180;
const tileLat = (y, n) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;

/** The tile server's tiles under a drawing of the box (x1, y1)–(x2, y2) in metres around (lat0, lon0), each placed
 * by its corners through the drawing's projection (close enough over a city): a layer, or none (an empty list)
 * when no server is set. */
function tileLayer(box, lat0, lon0, project) {
  const template = document.body.dataset.mapTiles;
  if (!template) return [];
  const kx = Math.cos((lat0 * Math.PI) / 180) * M_PER_DEG;
  const widthM = box.x2 - box.x1;
  // The drawing keeps its proportions in a box of other proportions: cover half its size again on every side.
  const pad = Math.max(widthM, box.y2 - box.y1) / 2;
  const west = lon0 + (box.x1 - pad) / kx, east = lon0 + (box.x2 + pad) / kx;
  const north = lat0 - (box.y1 - pad) / M_PER_DEG, south = lat0 - (box.y2 + pad) / M_PER_DEG;
  let z = Math.round(Math.log2((TILES_ACROSS * 40_075_016 * Math.cos((lat0 * Math.PI) / 180)) / Math.max(widthM, 1)));
  z = Math.min(19, Math.max(1, z));
  let n = 2 ** z;
  while (z > 1 && (tileX(east, n) - tileX(west, n) + 1) * (tileY(south, n) - tileY(north, n) + 1) > MAX_TILES) {
    z -= 1;
    n = 2 ** z;
  }
  const layer = svg("g", { class: "m-tiles", "aria-hidden": "true" });
  for (let tx = tileX(west, n); tx <= tileX(east, n); tx += 1) {
    for (let ty = tileY(north, n); ty <= tileY(south, n); ty += 1) {
      const [x1, y1] = project({ lon: tileLon(tx, n), lat: tileLat(ty, n) });
      const [x2, y2] = project({ lon: tileLon(tx + 1, n), lat: tileLat(ty + 1, n) });
      const href = template.replace("{z}", z).replace("{x}", tx).replace("{y}", ty);
      layer.append(svg("image", { href, x: x1, y: y1, width: x2 - x1, height: y2 - y1, preserveAspectRatio: "none" }));
    }
  }
  return [layer];
}

/** The tile server's attribution under the map, when one is set (else an empty list). */
function attribution() {
  const text = document.body.dataset.mapAttribution;
  return text ? [el("p", { class: "map-attribution muted" }, text)] : [];
}

/** The points a track spans: its fixes and its zones' edges (circles by their bounding corners). */
function trackPoints(track) {
  const points = track.fixes.map((f) => ({ lat: f.lat, lon: f.lon }));
  for (const zone of track.zones) {
    const s = zone.shape;
    if (s.kind === "polygon") points.push(...s.points.map(([lat, lon]) => ({ lat, lon })));
    else {
      const dLat = s.radius_m / M_PER_DEG, dLon = dLat / Math.cos((s.lat * Math.PI) / 180);
      points.push({ lat: s.lat - dLat, lon: s.lon - dLon }, { lat: s.lat + dLat, lon: s.lon + dLon });
    }
  }
  return points;
}

/** A track's safe zones, its line since departure, where it started and where the resident is now. */
function trackLayer(track, project, unit) {
  const layer = svg("g", { class: "m-track", "data-resident": track.resident_id });
  for (const zone of track.zones) {
    const s = zone.shape;
    const title = svg("title", {}, `${t("map.zone")}: ${zone.name}${zone.active_from ? ` (${zone.active_from.slice(0, 5)}–${zone.active_until.slice(0, 5)})` : ""}`);
    if (s.kind === "polygon") {
      layer.append(svg("polygon", { class: "zone", points: s.points.map(([lat, lon]) => project({ lat, lon }).join(",")).join(" ") }, title));
    } else {
      const [x, y] = project(s);
      layer.append(svg("circle", { class: "zone", cx: x, cy: y, r: s.radius_m }, title));
    }
  }
  if (!track.fixes.length) return layer;
  const line = track.fixes.map((f) => project(f).join(",")).join(" ");
  layer.append(svg("polyline", { class: "path", points: line }));
  const [sx, sy] = project(track.fixes[0]);
  const last = track.fixes[track.fixes.length - 1];
  const [ex, ey] = project(last);
  layer.append(svg("circle", { class: "start", cx: sx, cy: sy, r: unit * 1.1 },
    svg("title", {}, `${t("map.trackStart")} ${formatTime(track.fixes[0].ts)}`)));
  layer.append(svg("circle", { class: "now", cx: ex, cy: ey, r: unit * 2 },
    svg("title", {}, `${t("map.trackNow")} ${formatTime(last.ts)} (±${Math.round(last.accuracy_m)} m)`)));
  return layer;
}

/** Draw one incident's track (GET /api/incidents/{id}/track) with its safe zones into container. */
export function drawTrack(container, track) {
  const points = trackPoints(track);
  if (!track.fixes.length) {
    container.replaceChildren(el("p", { class: "muted" }, t("track.none")));
    return;
  }
  const lat0 = points.reduce((a, p) => a + p.lat, 0) / points.length;
  const lon0 = points.reduce((a, p) => a + p.lon, 0) / points.length;
  const kx = Math.cos((lat0 * Math.PI) / 180) * M_PER_DEG;
  const project = (p) => [(p.lon - lon0) * kx, -(p.lat - lat0) * M_PER_DEG];
  const xs = points.map((p) => project(p)[0]), ys = points.map((p) => project(p)[1]);
  const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
  const margin = Math.max(maxX - minX, maxY - minY, 50) * 0.08;
  const width = maxX - minX + 2 * margin, height = maxY - minY + 2 * margin;
  const unit = Math.max(width, height) / 90; // a small drawing: marks a little larger than the big map's
  const last = track.fixes[track.fixes.length - 1];
  const summary = track.since ? t("track.since", { time: formatTime(track.since), n: track.fixes.length })
    : t("track.around", { n: track.fixes.length });
  container.replaceChildren(
    svg("svg", { class: "map track-map", role: "img", "aria-label": `${t("track.heading")}: ${summary}`,
      viewBox: `${minX - margin} ${minY - margin} ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" },
    ...tileLayer({ x1: minX - margin, y1: minY - margin, x2: maxX + margin, y2: maxY + margin }, lat0, lon0, project),
    trackLayer(track, project, unit)),
    el("p", { class: "track-summary" }, summary, " · ",
      t("track.latest", { time: formatTime(last.ts), m: Math.round(last.accuracy_m) })), ...attribution());
}

/** Draw the map of `view` (GET /api/map) into container, with the tracks of open wandering alarms; onIncident(id)
 * when an incident is clicked. */
export function drawMap(container, view, { onIncident, tracks = [] }) {
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
  for (const p of tracks.flatMap(trackPoints)) { const [x, y] = project(p); xs.push(x); ys.push(y); }
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
  const wandering = svg("g", { class: "m-tracks" }, ...tracks.map((track) => trackLayer(track, project, unit)));
  placeLabels([...incidentLabels, ...stationLabels], markBoxes);
  // A group, not an image: the incident markers inside it take the focus.
  const drawing = svg("svg", { id: "map-svg", class: "map", role: "group", "aria-label": t("map.heading"),
    viewBox: `${minX - margin} ${minY - margin} ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" },
  ...tileLayer({ x1: minX - margin, y1: minY - margin, x2: maxX + margin, y2: maxY + margin }, lat0, lon0, project),
  circles, wandering, marks, stations, alarms);
  const km = (r / 1000).toFixed(1);
  const legend = el("ul", { class: "map-legend" },
    el("li", {}, el("span", { class: "key home" }), t("map.home")),
    el("li", {}, el("span", { class: "key station" }), t("map.station")),
    el("li", {}, el("span", { class: "key circle" }), t("map.circle", { km })),
    el("li", {}, el("span", { class: "key off" }), t("map.off")),
    el("li", {}, el("span", { class: "key incident" }), `${t("map.incident")} (${view.incidents.length})`),
    tracks.length ? el("li", {}, el("span", { class: "key track" }), `${t("map.track")} (${tracks.length})`) : null,
    tracks.length ? el("li", {}, el("span", { class: "key zone" }), t("map.zone")) : null);
  container.replaceChildren(el("h1", { class: "map-heading" }, t("map.heading")), drawing, legend, ...attribution());
}
