// The station view: the station's live tasks with a big button for each step, capacity, and the on-duty roster.
import { ApiError, ago, api, el, formatTime, lang, me, startPage, t, toast } from "./common.js";
import { label } from "./labels.js";
import { chime } from "./chime.js";
import "./station/strings.js";
import { serviceBoard } from "./station/board.js";

// Why polling: the incident feed WebSocket is for the call centre only (it carries every incident), and a
// responder needs only their station's tasks. Every 3 s the page asks for its view and its service board, each
// with its last ETag; the server answers from a digest of the stored rows, so an unchanged view costs one small
// query, sends no body (304) and opens no resident record again.
const POLL_MS = 3000;
const ACTIVE = new Set(["offered", "accepted", "en_route", "on_scene"]);
// A task's status → its buttons: [action path, label, style, the text it asks for first].
const STEPS = {
  offered: [["accept", "st.accept", "primary"], ["decline", "st.decline", "danger", "reason"]],
  accepted: [["en-route", "st.enRoute", "primary"], ["on-scene", "st.onScene", ""], ["done", "st.done", "", "note"]],
  en_route: [["on-scene", "st.onScene", "primary"], ["done", "st.done", "", "note"]],
  on_scene: [["done", "st.done", "primary", "note"]],
};
const MANAGERS = new Set(["admin", "supervisor"]);
const QUALITY_DAYS = 30;

/** What url answers, with its ETag, or null when it has not changed since ``etag`` (fetch, not api(): the ETag
 * lives in headers). */
async function fetchFresh(url, etag) {
  const headers = { Accept: "application/json" };
  if (etag) headers["If-None-Match"] = etag;
  const response = await fetch(url, { headers, cache: "no-store", credentials: "same-origin" });
  if (response.status === 304) return null;
  if (response.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, t("error.session"));
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail ?? response.statusText);
  return { data, etag: response.headers.get("ETag") };
}

function timeLine(key, iso) {
  return iso ? el("span", { class: "when" }, t(key, { time: formatTime(iso) }),
    " ", el("span", { class: "ago muted", "data-iso": iso }, `(${ago(iso)})`)) : null;
}

startPage("station", async (main) => {
  main.classList.add("station");
  const user = me();
  const baseTitle = document.title;
  const params = new URLSearchParams(location.search);
  let stationId = params.get("station_id") ? Number(params.get("station_id")) : null;
  let etag = null, known = null, unseen = 0, view = null, boardEtag = null, boardAll = false;
  const drafts = new Map(); // task id → { step, text }: a reason or note being typed survives a refresh

  const head = el("section", { class: "card station-head", id: "station-head", "aria-labelledby": "station-name" });
  const tasks = el("div", { id: "tasks", class: "tasks" });
  const closed = el("div", { id: "tasks-closed", class: "tasks closed" });
  const roster = el("section", { class: "card roster", id: "roster", "aria-labelledby": "roster-heading" });
  const badge = el("span", { id: "new-badge", class: "badge bad hidden", role: "status" });
  const status = el("p", { id: "poll-state", class: "muted poll-state", role: "status" });
  const quality = el("section", { class: "card quality", id: "quality", "aria-labelledby": "quality-heading" });
  main.dataset.rings = "0";
  const managing = MANAGERS.has(user.role);
  const board = serviceBoard(managing ? el("label", { class: "board-all" },
    el("input", { type: "checkbox", id: "board-all", onchange: (event) => {
      boardAll = event.target.checked;
      boardEtag = null;
      refresh();
    } }), t("board.all")) : null);

  if (managing) {
    const stations = await api("stations");
    stationId ??= user.station_id ?? stations[0]?.id ?? null;
    const picker = el("select", { id: "station-pick", "aria-label": t("st.pick"), onchange: (event) => {
      stationId = Number(event.target.value);
      history.replaceState(null, "", `?station_id=${stationId}`);
      etag = null; known = null; boardEtag = null; drafts.clear();
      refresh();
      showQuality();
    } }, stations.map((s) => el("option", { value: s.id, selected: s.id === stationId }, s.name)));
    main.append(el("div", { class: "row picker" }, el("label", { for: "station-pick" }, t("st.pick")), picker));
  }
  main.append(el("div", { class: "station-layout" },
    el("div", { class: "station-main" }, head,
      el("section", { "aria-labelledby": "tasks-heading" },
        el("div", { class: "row tasks-head" }, el("h2", { id: "tasks-heading" }, t("st.tasks")), badge), tasks,
        el("h2", { class: "closed-heading" }, t("st.closedToday")), closed), board.node, quality),
    el("aside", { class: "station-side" }, roster, status)));

  const clearNew = () => {
    unseen = 0;
    document.title = baseTitle;
    badge.classList.add("hidden");
  };
  addEventListener("pointerdown", clearNew);

  async function act(task, action, text) {
    try {
      const body = text ? { note: text } : {};
      const moved = await api(`tasks/${task.id}/${action}`, { method: "POST", body });
      drafts.delete(task.id);
      toast(t("st.moved", { status: label("task", moved.status) }));
    } catch (err) {
      toast(t("error.generic", { detail: err.message }), "error");
    }
    await refresh();
  }

  function stepForm(task, step, draft) {
    const [action, , , asks] = step;
    const id = `${asks}-${task.id}`;
    const area = el("textarea", { id, name: asks, required: true, maxlength: 2000,
      oninput: (event) => { draft.text = event.target.value; } });
    area.value = draft.text;
    const error = el("p", { class: "error", role: "alert" });
    return el("form", { class: "step-form", onsubmit: (event) => {
      event.preventDefault();
      const text = area.value.trim();
      if (!text) {
        error.textContent = t(asks === "reason" ? "st.reasonNeeded" : "st.noteNeeded");
        area.focus();
        return;
      }
      act(task, action, text);
    } },
    el("label", { for: id }, t(asks === "reason" ? "st.declineReason" : "st.doneNote")), area, error,
    el("div", { class: "row" },
      el("button", { type: "submit", class: asks === "reason" ? "danger big" : "primary big",
        "data-confirm": action }, t(asks === "reason" ? "st.declineConfirm" : "st.doneConfirm")),
      el("button", { type: "button", class: "big", onclick: () => { drafts.delete(task.id); render(); } },
        t("st.cancel"))));
  }

  function taskCard(task, fresh) {
    const r = task.resident;
    const draft = drafts.get(task.id);
    const steps = STEPS[task.status] || [];
    const buttons = steps.map((step) => {
      const [action, key, style, asks] = step;
      return el("button", { class: `big ${style}`, "data-action": action, type: "button", onclick: () => {
        if (asks) {
          drafts.set(task.id, { step: action, text: "" });
          render();
          document.getElementById(`${asks}-${task.id}`)?.focus();
        } else {
          act(task, action);
        }
      } }, t(key));
    });
    const step = draft && steps.find((s) => s[0] === draft.step);
    return el("article", { class: `task s-${task.status} p${task.priority}${fresh ? " fresh" : ""}`,
      id: `task-${task.id}`, "data-task-id": task.id, "data-status": task.status,
      "aria-labelledby": `task-${task.id}-title` },
    el("header", { class: "task-head" },
      el("span", { class: "prio" }, t("st.prio", { p: task.priority })),
      el("h3", { id: `task-${task.id}-title` }, `${label("cause", task.cause)} · ${r.name}`),
      el("span", { class: `badge task-status ${ACTIVE.has(task.status) ? "warn" : "ok"}` },
        label("task", task.status)),
      fresh ? el("span", { class: "badge bad" }, t("st.new")) : null),
    el("p", { class: "address" }, r.address || "—"),
    r.access_notes ? el("p", { class: "access" }, el("strong", {}, t("st.access")), " ", r.access_notes) : null,
    el("p", { class: "phone" }, r.phone ? el("a", { href: `tel:${r.phone}` }, t("st.call", { phone: r.phone }))
      : el("span", { class: "muted" }, t("st.noPhone"))),
    el("p", { class: "explanation muted" }, lang() === "en" ? task.explanation_en : task.explanation_zh),
    el("p", { class: "times" },
      task.travel_min !== null ? el("span", { class: "when" }, t("st.travel", { min: Math.ceil(task.travel_min) }))
        : null,
      timeLine("st.offeredAt", task.offered_at), timeLine("st.acceptedAt", task.accepted_at),
      timeLine("st.onSceneAt", task.on_scene_at), timeLine("st.closedAt", task.closed_at),
      task.responder ? el("span", { class: "when" }, t("st.by", { name: task.responder_name || task.responder })) : null),
    task.note ? el("p", { class: "note" }, el("strong", {}, t("st.note")), " ", task.note) : null,
    step ? stepForm(task, step, draft) : (buttons.length ? el("div", { class: "actions" }, buttons) : null));
  }

  function renderHead(s, v) {
    const open = s.on_duty && s.available_now;
    const hhmm = (value) => value.slice(0, 5);
    head.replaceChildren(
      el("div", { class: "row" }, el("h1", { id: "station-name" }, s.name),
        el("span", { id: "station-open", class: `badge ${open ? "ok" : "warn"}` }, t(open ? "st.onDuty" : "st.closed"))),
      el("p", { class: "muted" }, s.address, s.phone ? ` · ${t("st.phone")} ${s.phone}` : "",
        " · ", t("st.hours", { opens: hhmm(s.opens), closes: hhmm(s.closes) })),
      el("div", { class: "capacity" },
        el("span", { class: "cap-label" }, t("st.capacityLabel")),
        el("meter", { min: 0, max: Math.max(1, s.capacity), value: s.active_tasks, high: Math.max(1, s.capacity),
          "aria-label": t("st.capacityLabel") }),
        el("strong", { id: "capacity" }, t("st.capacity", { used: s.active_tasks, cap: s.capacity })),
        el("span", { class: "muted" }, " · ", t("st.onDutyCount", { n: v.on_duty_count }))));
  }

  function renderRoster(v) {
    const mine = v.roster.find((p) => p.me);
    const items = v.roster.map((p) => el("li", { class: p.on_duty ? "on" : "off" },
      el("span", { class: "dot", "aria-hidden": "true" }), `${p.display_name}${p.me ? t("st.me") : ""}`,
      el("span", { class: `badge ${p.on_duty ? "ok" : ""}` }, t(p.on_duty ? "st.rosterOn" : "st.rosterOff"))));
    roster.replaceChildren(el("h2", { id: "roster-heading" }, t("st.roster")),
      mine ? el("button", { id: "duty-switch", class: `switch big${mine.on_duty ? " on" : ""}`, role: "switch",
        "aria-checked": String(mine.on_duty), type: "button", onclick: async () => {
          try {
            await api("station/duty", { method: "POST", body: { on_duty: !mine.on_duty } });
          } catch (err) {
            toast(t("error.generic", { detail: err.message }), "error");
          }
          await refresh();
        } }, el("span", { class: "knob", "aria-hidden": "true" }), t("st.myDuty")) : null,
      items.length ? el("ul", { class: "roster-list" }, items) : el("p", { class: "muted" }, t("st.noRoster")));
  }

  function render(fresh = new Set()) {
    if (!view) return;
    const focused = document.activeElement?.id;
    renderHead(view.station, view);
    const active = view.tasks.filter((task) => ACTIVE.has(task.status));
    const done = view.tasks.filter((task) => !ACTIVE.has(task.status));
    tasks.replaceChildren(...(active.length ? active.map((task) => taskCard(task, fresh.has(task.id)))
      : [el("p", { class: "muted empty", id: "no-tasks" }, t("st.noTasks"))]));
    closed.replaceChildren(...done.map((task) => taskCard(task, false)));
    closed.previousElementSibling.classList.toggle("hidden", done.length === 0);
    renderRoster(view);
    if (focused) document.getElementById(focused)?.focus();
  }

  let timer = null, busy = false, again = false;
  async function refresh() {
    clearTimeout(timer);
    if (busy) {
      again = true; // after an action: look again as soon as the poll in flight is back
      return;
    }
    busy = true;
    try {
      const boardUrl = `/api/care/board${stationId && !boardAll ? `?station_id=${stationId}` : ""}`;
      const [got, gotBoard] = await Promise.all([
        fetchFresh(stationId ? `/api/station?station_id=${stationId}` : "/api/station", etag),
        fetchFresh(boardUrl, boardEtag)]);
      if (gotBoard) {
        boardEtag = gotBoard.etag;
        board.draw(gotBoard.data);
      }
      status.textContent = t("st.updated", { time: formatTime(new Date().toISOString(), { date: false }) });
      status.classList.remove("down");
      if (got) {
        ({ data: view, etag } = got);
        const offered = view.tasks.filter((task) => task.status === "offered").map((task) => task.id);
        const fresh = new Set(known ? offered.filter((id) => !known.has(id)) : []);
        known = new Set([...(known || []), ...view.tasks.map((task) => task.id)]);
        if (fresh.size) {
          unseen += fresh.size;
          chime([[0, 660], [0.2, 880], [0.4, 660]], { volume: 0.25, length: 0.18 });
          main.dataset.rings = String(Number(main.dataset.rings) + 1);
          document.title = `${t("st.newTitle", { n: unseen })} · ${baseTitle}`;
          badge.textContent = t("st.newTitle", { n: unseen });
          badge.classList.remove("hidden");
        }
        render(fresh);
      }
    } catch (err) {
      status.textContent = err instanceof ApiError && err.status !== 401 ? err.message : t("st.offline");
      status.classList.add("down");
    } finally {
      busy = false;
      timer = setTimeout(refresh, again ? 0 : POLL_MS);
      again = false;
    }
  }
  /** The home services this station provided in the last 30 days: the figures with ratings and complaints, per
   * carer, the complaints themselves, and the carers' photos of their visits. */
  async function showQuality() {
    const since = encodeURIComponent(new Date(Date.now() - QUALITY_DAYS * 24 * 3600e3).toISOString());
    const only = stationId ? `&station_id=${stationId}` : "";
    try {
      const [figures, complaints, photos] = await Promise.all([api(`care/carer-figures?since=${since}${only}`),
        api(`care/complaints?since=${since}${only}`), api(`care/visit-photos?since=${since}${only}`)]);
      const line = (f) => el("tr", { "data-carer-id": f.carer_id ?? "", class: f.provider_total ? "total" : "" },
        el("th", { scope: "row" }, f.provider_total ? t("st.q.all") : f.carer_name || t("st.q.noCarer")),
        el("td", {}, f.visits), el("td", {}, f.missed + f.late),
        el("td", { class: "q-rating" }, f.rating_avg === null ? "—"
          : t("st.q.rating", { avg: f.rating_avg.toFixed(1), n: f.ratings })),
        el("td", { class: "q-complaints" }, f.complaints));
      quality.replaceChildren(el("h2", { id: "quality-heading" }, t("st.q.title")),
        figures.length ? el("table", { id: "quality-figures" },
          el("thead", {}, el("tr", {}, ["st.q.who", "st.q.visits", "st.q.lateMissed", "st.q.ratings",
            "st.q.complaints"].map((key) => el("th", { scope: "col" }, t(key))))),
          el("tbody", {}, figures.map(line))) : el("p", { class: "muted" }, t("st.q.none")),
        el("h3", {}, t("st.q.complaintsTitle")),
        complaints.length ? el("ul", { class: "complaint-list", id: "complaints" }, complaints.map((c) => el("li", {
          "data-complaint-id": c.id },
        el("strong", {}, label("complaint", c.category)), " · ", c.resident_name, " · ", c.service_name,
        el("br"), el("span", { class: "muted" }, formatTime(c.starts_at, { seconds: false }),
          c.carer_name ? ` · ${c.carer_name}` : "", " · ", t(`st.q.from.${c.raised_by}`)),
        el("p", {}, c.text))))
          : el("p", { class: "muted", id: "no-complaints" }, t("st.q.noComplaints")),
        ...(photos.length ? [el("h3", {}, t("st.q.photos")), el("ul", { class: "photo-list", id: "visit-photos" },
          photos.map((v) => el("li", { "data-booking-id": v.booking_id }, el("figure", {},
            el("img", { src: `/api/care/carer-visits/${v.booking_id}/photo`, loading: "lazy",
              alt: t("st.q.photoAlt", { service: v.service_name, resident: v.resident_name }) }),
            el("figcaption", {}, `${v.resident_name} · ${v.service_name}`, el("br"),
              el("span", { class: "muted" }, formatTime(v.photo_taken_at, { seconds: false }),
                v.carer_name ? ` · ${v.carer_name}` : ""))))))] : []));
    } catch (err) {
      quality.replaceChildren(el("p", { class: "error" }, t("error.generic", { detail: err.message })));
    }
  }

  setInterval(() => {
    for (const node of main.querySelectorAll(".ago[data-iso]")) node.textContent = `(${ago(node.dataset.iso)})`;
    board.tick();
  }, 15000);
  await Promise.all([refresh(), showQuality()]);
});
