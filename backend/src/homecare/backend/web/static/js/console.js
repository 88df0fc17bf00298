// The operator console: the live queue on the left, the incident or the map on the right, driven by the keyboard.
import { announce, api, el, follow, startPage, t, toast } from "./common.js";
import { IncidentScreen } from "./console/incident.js";
import { Queue, WAITING, useAnswerTargets } from "./console/queue.js";
import { chime } from "./chime.js";
import { label } from "./labels.js";
import "./console/strings.js";

const ACTION_KEYS = { a: "ack", h: "help", c: "call", d: "dispatch", f: "family", n: "note", r: "resolve" };
const KEYS_OFF = "homecare.singleKeys"; // "off": single-key shortcuts turned off (WCAG 2.1.4), kept per browser

/** The new-alarm beep: two tones, at most once a second however many alarms arrive together. */
function makeBeeper() {
  let last = -Infinity;
  return () => {
    if (performance.now() - last < 1000) return false;
    last = performance.now();
    chime([[0, 880], [0.18, 660]]);
    return true;
  };
}

startPage("console", async (main) => {
  main.classList.add("console");
  const baseTitle = document.title;
  const beep = makeBeeper();
  let mode = "incident", cursor = 0, mapModule = null, mapTimer = null;

  const list = el("ol", { id: "queue", class: "queue", role: "listbox", "aria-label": t("queue.heading") });
  const badge = el("span", { id: "queue-badge", class: "badge bad hidden", title: t("queue.new") });
  const total = el("span", { id: "queue-total", class: "muted" });
  const feedState = el("span", { id: "feed-state", class: "feed-state" });
  const empty = el("p", { class: "muted queue-empty hidden", id: "queue-empty" }, t("queue.empty"));
  let singleKeys = localStorage.getItem(KEYS_OFF) !== "off";
  const keysSwitch = el("input", { type: "checkbox", id: "keys-switch", checked: singleKeys, onchange: () => {
    singleKeys = keysSwitch.checked;
    localStorage.setItem(KEYS_OFF, singleKeys ? "on" : "off");
    keysHelp.hidden = !singleKeys;
  } });
  const keysHelp = el("p", { class: "keys-help", id: "keys-help", hidden: !singleKeys }, t("keys.help"));
  const incidentPane = el("div", { id: "incident-pane" });
  const mapPane = el("div", { id: "map-pane", class: "hidden" });
  const incidentTab = el("a", { id: "tab-incident", href: "#/" }, t("tab.incident"));
  const mapTab = el("a", { id: "tab-map", href: "#/map" }, t("tab.map"), " ", el("kbd", {}, "M"));
  main.append(el("div", { class: "console-layout" },
    el("aside", { class: "queue-col", "aria-label": t("queue.heading") },
      el("div", { class: "queue-head" }, el("h1", {}, t("queue.heading")), badge, total,
        el("span", { class: "spacer" }), feedState),
      empty, list, el("div", { class: "keys muted" },
        el("label", { for: "keys-switch", class: "keys-switch" }, keysSwitch, " ", t("keys.switch")), keysHelp)),
    el("section", { class: "pane-col" }, el("nav", { class: "pane-tabs" }, incidentTab, mapTab),
      incidentPane, mapPane)));

  // Keys act on the new place at once: route now rather than when the hashchange event comes round.
  const navigate = (hash) => { location.hash = hash; route(); };
  // Opened by the operator (a key, a click): the focus follows to the incident, so a screen reader names it.
  // Moving through the list with the arrows keeps the focus on the list's new row.
  const go = (id, { stayInList = false } = {}) => {
    if (id === null || id === undefined) return;
    if (!stayInList) screen.focusWhenReady(id);
    navigate(`#/incidents/${id}`);
    if (stayInList) queue.focus(id);
  };
  const queue = new Queue(list, { onPick: go, onTick: (now) => screen.tick(now) });
  const screen = new IncidentScreen(incidentPane, { queue });

  let summaryDue = false;
  const summary = () => {
    if (summaryDue) return;
    summaryDue = true;
    queueMicrotask(() => {
      summaryDue = false;
      const waiting = queue.waiting();
      document.title = waiting ? `(${waiting}) ${baseTitle}` : baseTitle;
      badge.textContent = t("queue.waiting", { n: waiting });
      badge.classList.toggle("hidden", waiting === 0);
      total.textContent = t("queue.total", { n: queue.size });
      empty.classList.toggle("hidden", queue.size > 0);
    });
  };

  async function showMap() {
    mapModule ??= await import("./console/map.js");
    const view = await api("map");
    const wandering = view.incidents.filter((i) => i.cause === "left_safe_zone");
    const tracks = await Promise.all(wandering.map((i) => api(`incidents/${i.id}/track`)));
    if (mode !== "map") return;
    mapModule.drawMap(mapPane, view, { onIncident: go, tracks });
  }
  const refreshMapSoon = () => {
    if (mode !== "map" || mapTimer) return;
    mapTimer = setTimeout(() => { mapTimer = null; showMap().catch(() => {}); }, 1000);
  };

  let routed = null;
  function route() {
    if (location.hash === routed) return;
    routed = location.hash;
    const match = location.hash.match(/^#\/incidents\/(\d+)$/);
    mode = location.hash === "#/map" ? "map" : "incident";
    mapPane.classList.toggle("hidden", mode !== "map");
    incidentPane.classList.toggle("hidden", mode === "map");
    incidentTab.setAttribute("aria-current", mode === "incident" ? "page" : "false");
    mapTab.setAttribute("aria-current", mode === "map" ? "page" : "false");
    if (mode === "map") {
      showMap().catch((err) => toast(t("error.generic", { detail: err.message }), "error"));
      return;
    }
    const id = match ? Number(match[1]) : null;
    queue.select(id);
    incidentTab.href = id ? `#/incidents/${id}` : "#/";
    if (id === null) screen.close();
    else if (screen.id !== id) screen.open(id);
  }

  // The newest change id first, then the queue: a change in between is replayed and applied again, harmlessly.
  const [last, targets] = await Promise.all([api("incidents/changes/last"), api("incidents/escalation/targets")]);
  cursor = last.id;
  useAnswerTargets(targets);
  queue.load(await api("incidents?limit=1000"));
  summary();
  performance.mark("console:queue"); // first load measured to here (bench/console.py)
  main.dataset.alarms = "0";
  follow(() => `/api/incidents/feed?after=${cursor}`, (change) => {
    cursor = Math.max(cursor, change.id);
    const snapshot = change.snapshot;
    const before = queue.get(snapshot.id);
    const result = queue.apply(snapshot);
    const raised = (result === "added" && WAITING.has(snapshot.status))
      || (before?.status === "pre_alarm" && snapshot.status === "open");
    if (raised) announce(t("queue.announce", { cause: label("cause", snapshot.cause), name: snapshot.resident_name
      || `#${snapshot.resident_id}` }));
    if (raised && beep()) main.dataset.alarms = String(Number(main.dataset.alarms) + 1);
    screen.refresh(snapshot);
    summary();
    refreshMapSoon();
  }, {
    onOpen: () => { feedState.textContent = t("queue.live"); feedState.className = "feed-state live"; },
    onDown: () => { feedState.textContent = t("queue.down"); feedState.className = "feed-state down"; },
  });

  addEventListener("hashchange", route);
  route();

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    if (!singleKeys && event.key.length === 1) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const inList = list.contains(event.target);
    if (key === "j" || key === "ArrowDown") go(queue.neighbour(1), { stayInList: inList });
    else if (key === "k" || key === "ArrowUp") go(queue.neighbour(-1), { stayInList: inList });
    else if (key === "m") navigate(mode === "map" ? incidentTab.getAttribute("href") : "#/map");
    else if (key === "Escape" && mode === "map") navigate(incidentTab.getAttribute("href"));
    else if (ACTION_KEYS[key] && mode === "incident") screen.act(ACTION_KEYS[key]);
    else return;
    event.preventDefault();
  });
});
