// The incident screen: the resident card, what triggered it, vitals, devices, tasks, the audit trail, and actions.
import { ago, api, el, formatTime, lang, t, toast } from "../common.js";
import { CLOSED, timerOf } from "./queue.js";
import { OUTCOMES, because, isProblem, label, relation, stepText } from "../labels.js";
import { svg } from "../svg.js";
import "./strings.js";

const ACTIVE_TASKS = new Set(["offered", "accepted", "en_route", "on_scene"]);
const VITALS_HOURS = 6;

/** A photo placeholder: the name's initials (the last two characters of a Chinese name) on a calm disc. */
function avatar(name = "?") {
  const cjk = /[\u3400-\u9fff]/.test(name);
  const initials = cjk ? name.slice(-2) : name.split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
  const hue = [...name].reduce((h, c) => (h * 31 + c.codePointAt(0)) % 360, 0);
  return svg("svg", { class: "avatar", viewBox: "0 0 64 64", role: "img", "aria-label": name },
    svg("circle", { cx: 32, cy: 32, r: 32, fill: `hsl(${hue} 35% 42%)` }),
    svg("text", { x: 32, y: 33, "text-anchor": "middle", "dominant-baseline": "central", fill: "#fff",
      "font-size": cjk ? 22 : 24, "font-weight": 600 }, initials));
}

/** A small line of one metric's per-minute averages over the window. */
function sparkline(buckets, start, end, { min, max } = {}) {
  const w = 240, h = 44, pad = 3;
  const box = svg("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", "aria-hidden": "true" });
  if (!buckets.length) return box;
  const values = buckets.map((b) => b.avg);
  const lo = Math.min(min ?? Infinity, ...values), hi = Math.max(max ?? -Infinity, ...values);
  const span = hi - lo || 1;
  const x = (ts) => ((Date.parse(ts) - start) / (end - start)) * w;
  const y = (v) => h - pad - ((v - lo) / span) * (h - 2 * pad);
  const d = buckets.map((b, i) => `${i ? "L" : "M"}${x(b.bucket).toFixed(1)},${y(b.avg).toFixed(1)}`).join("");
  box.append(svg("path", { d, fill: "none", stroke: "currentColor", "stroke-width": 1.5,
    "vector-effect": "non-scaling-stroke" }));
  return box;
}

function field(name, value, cls) {
  return [el("dt", {}, t(name)), el("dd", { class: cls }, value ?? "—")];
}

function list(items, cls) {
  return items?.length ? el("ul", { class: `chips ${cls || ""}` }, items.map((i) => el("li", {}, i)))
    : el("span", { class: "muted" }, t("card.none"));
}

function phone(number) {
  return number ? el("a", { href: `tel:${number}` }, number) : "—";
}

/** Who did a step of the trail: a user's display name, else the platform's actor in the reader's language. */
function actorName(step) {
  return step.actor_name || label("actor", step.actor);
}

function section(cls, heading, ...body) {
  return el("section", { class: `card ${cls}` }, el("h2", {}, heading), ...body);
}

export class IncidentScreen {
  constructor(pane, { queue }) {
    this.pane = pane;
    this.queue = queue;
    this.id = null;
    this.token = 0;
    this.reloading = null;
    this.focusId = null; // the incident the operator opened: its heading takes the focus once drawn
  }

  /** Move the focus to this incident's heading once it is on screen (now, when it already is). */
  focusWhenReady(id) {
    this.focusId = id;
    if (this.id === id && this.root?.dataset.ready) this.takeFocus();
  }

  takeFocus() {
    if (this.focusId !== this.id) return;
    this.focusId = null;
    this.root.querySelector("#inc-name").focus();
  }

  // --- opening and refreshing --------------------------------------------------------------------

  async open(id) {
    const token = ++this.token;
    this.id = id;
    this.incident = this.queue.get(id) || null;
    this.card = null;
    this.pane.replaceChildren(el("p", { class: "muted pane-note" }, t("pane.loading")));
    try {
      const detailP = api(`incidents/${id}`);
      const residentId = this.incident?.resident_id ?? (await detailP).incident.resident_id;
      const [detail, card] = await Promise.all([detailP, api(`residents/${residentId}`)]);
      if (token !== this.token) return;
      this.card = card;
      this.render(detail);
      this.loadVitals(residentId, token);
      this.loadTrack(id, token);
    } catch (err) {
      if (token === this.token) this.pane.replaceChildren(el("p", { class: "error pane-note" }, err.message));
    }
  }

  close() {
    this.token += 1;
    this.id = null;
    this.pane.replaceChildren(el("p", { class: "muted pane-note" }, t("pane.empty")));
  }

  /** A feed snapshot of the open incident: header and buttons now, the trail shortly after (one fetch per burst). */
  refresh(snapshot) {
    if (snapshot.id !== this.id || !this.root) return;
    this.incident = snapshot;
    this.paintHeader();
    this.scheduleReload();
  }

  scheduleReload() {
    if (this.reloading) return;
    const token = this.token;
    this.reloading = setTimeout(async () => {
      this.reloading = null;
      try {
        const detail = await api(`incidents/${this.id}`);
        if (token === this.token) this.renderDetail(detail);
      } catch (err) {
        toast(t("error.generic", { detail: err.message }), "error");
      }
    }, 150);
  }

  tick(now) {
    if (!this.root || !this.incident) return;
    const { text, tone } = timerOf(this.incident, now);
    this.timer.textContent = text;
    this.timer.className = `inc-timer q-timer ${tone}`;
  }

  // --- drawing -------------------------------------------------------------------------------------

  render(detail) {
    const card = this.card;
    this.incident = detail.incident;
    this.timer = el("span", { class: "inc-timer" });
    this.statusBadge = el("span", { class: "badge", id: "inc-status" });
    this.prioBadge = el("span", { class: "badge prio" });
    this.buttons = this.actionButtons();
    const facts = [card.age !== null ? t("age", { n: card.age }) : null, card.sex ? t(`sex.${card.sex}`) : null,
      card.language].filter(Boolean).join(" · ");
    this.trigger = el("div");
    this.tasks = el("div");
    this.trail = el("div");
    this.vitals = el("div", { class: "vitals" }, el("p", { class: "muted" }, t("pane.loading")));
    // Where a GPS watch's wearer went: read (and logged) only for a resident who wears one.
    const watch = card.devices.some((d) => d.kind === "gps_watch");
    this.track = watch ? el("div", { id: "inc-track" }, el("p", { class: "muted" }, t("pane.loading"))) : null;
    this.root = el("article", { id: "incident", class: "incident", dataset: { id: this.id } },
      el("header", { class: "inc-head" }, avatar(card.name),
        el("div", { class: "inc-who" }, el("h1", { id: "inc-name", tabindex: "-1" }, card.name,
          card.vulnerable ? el("span", { class: "badge warn" }, t("card.vulnerable")) : null,
          card.consent_video ? el("span", { class: "badge" }, t("card.video")) : null),
        el("div", { class: "muted" }, facts),
        el("div", { class: "inc-tags" }, this.prioBadge, el("strong", { id: "inc-cause" }, label("cause",
          this.incident.cause)), this.statusBadge)),
        this.timer),
      this.attentionNote = el("p", { class: "inc-attention", id: "inc-attention", hidden: true }),
      el("div", { class: "actions", role: "toolbar" }, Object.values(this.buttons)),
      el("section", { id: "call-panel" }),
      el("div", { class: "inc-grid" },
        el("div", { class: "col" },
          section("trigger", t("trigger.heading"), this.trigger),
          this.residentSection(card),
          section("contacts", t("card.contacts"), this.contactsList(card)),
          section("devices", t("devices.heading"), this.devicesTable(card.devices))),
        el("div", { class: "col" },
          this.track ? section("track", t("track.heading"), this.track) : null,
          section("vitals-card", t("vitals.heading"), this.vitals),
          section("tasks", t("tasks.heading"), this.tasks),
          section("trail", t("trail.heading"), this.trail),
          section("past", t("past.heading"), this.pastTable(card.past_incidents)))));
    this.callPanel = this.root.querySelector("#call-panel");
    this.pane.replaceChildren(this.root);
    this.renderDetail(detail);
    this.root.dataset.ready = "true";
    this.takeFocus();
  }

  renderDetail(detail) {
    this.incident = detail.incident;
    this.detail = detail;
    this.paintHeader();
    this.trigger.replaceChildren(this.triggerBody(detail));
    this.tasks.replaceChildren(this.tasksBody(detail.tasks));
    this.trail.replaceChildren(this.trailTable(detail.transitions));
  }

  paintHeader() {
    const i = this.incident;
    this.statusBadge.textContent = label("status", i.status);
    this.statusBadge.className = `badge status s-${i.status}`;
    this.prioBadge.textContent = t("priority", { p: i.priority });
    this.prioBadge.title = t("priority.title", { p: i.priority });
    this.prioBadge.className = `badge prio p${i.priority}`;
    this.root.querySelector("#inc-cause").textContent = label("cause", i.cause);
    this.root.dataset.status = i.status;
    this.attentionNote.hidden = !i.attention;
    this.attentionNote.textContent = i.attention ? t(`attention.${i.attention}`) : "";
    this.tick(Date.now());
    const tasks = this.detail?.incident.id === i.id ? (i.tasks || this.detail.tasks) : i.tasks || [];
    const busy = tasks.some((task) => ACTIVE_TASKS.has(task.status));
    const open = !CLOSED.has(i.status);
    const allowed = {
      ack: ["pre_alarm", "open"].includes(i.status), help: open,
      call: open, // a call home helps at every stage, also while help is on the way
      dispatch: ["open", "acknowledged", "in_call", "dispatched"].includes(i.status) && !busy,
      family: i.status !== "pre_alarm", note: true, resolve: open,
    };
    for (const [name, button] of Object.entries(this.buttons)) button.disabled = !allowed[name];
  }

  actionButtons() {
    const make = (name, key, primary) => el("button", { id: `act-${name}`, class: primary ? "primary" : undefined,
      "aria-keyshortcuts": key, onclick: () => this.act(name) }, t(`act.${name}`), " ", el("kbd", {}, key));
    return { ack: make("ack", "A", true), help: make("help", "H"), call: make("call", "C"), dispatch: make("dispatch", "D"),
      family: make("family", "F"), note: make("note", "N"), resolve: make("resolve", "R") };
  }

  triggerBody(detail) {
    const i = detail.incident, trig = detail.trigger || {};
    const explanation = lang() === "zh" ? i.explanation_zh : i.explanation_en;
    const findings = detail.transitions.filter((s) => ["reprioritised", "folded"].includes(s.detail?.change));
    const dl = el("dl", { class: "facts" },
      field("trigger.detected", formatTime(trig.detected_at || i.opened_at)),
      trig.device_kind ? field("trigger.device", `${label("device", trig.device_kind)} (${trig.device_uid})`) : null,
      trig.event_at ? field("trigger.event", formatTime(trig.event_at)) : null,
      trig.received_at ? field("trigger.received", formatTime(trig.received_at)) : null,
      trig.room ? field("trigger.room", trig.room) : null,
      trig.confidence !== null && trig.confidence !== undefined ? field("trigger.confidence",
        trig.confidence.toFixed(2)) : null);
    return el("div", {}, el("p", { class: "explanation", id: "inc-explanation" }, explanation),
      i.status === "pre_alarm" ? el("p", { class: "waiting", id: "inc-waiting" }, t("trigger.waiting")) : null,
      i.repeat_count > 1 ? el("p", { class: "muted" }, t("trigger.repeats", { n: i.repeat_count })) : null, dl,
      findings.length ? el("ul", { class: "findings" }, findings.map((s) =>
        el("li", {}, el("span", { class: "muted" }, `${formatTime(s.at, { date: false })} ${actorName(s)}: `),
          stepText(s.detail) || s.reason))) : null);
  }

  residentSection(card) {
    return section("resident", t("card.heading"),
      card.access_notes ? el("p", { class: "access", id: "card-access" }, el("strong", {}, t("card.access.label")),
        " ", card.access_notes) : null,
      el("dl", { class: "facts" },
        field("card.address", card.address), field("card.phone", phone(card.phone)),
        field("card.language", card.language), field("card.mobility", card.mobility),
        field("card.allergies", list(card.allergies, "allergy"), "allergies"),
        field("card.conditions", list(card.conditions)), field("card.medications", list(card.medications)),
        field("card.station", card.station ? [card.station.name, " ", phone(card.station.phone)] : "—")));
  }

  contactsList(card) {
    if (!card.contacts.length) return el("p", { class: "muted" }, t("card.none"));
    return el("ol", { class: "contacts", id: "card-contacts" }, card.contacts.map((c) => el("li", {},
      el("span", { class: "c-name" }, c.name), c.relation ? el("span", { class: "muted" }, ` (${relation(c.relation)})`) : null,
      " ", phone(c.phone))));
  }

  devicesTable(devices) {
    if (!devices.length) return el("p", { class: "muted" }, t("card.none"));
    return el("table", { class: "dense" },
      el("thead", {}, el("tr", {}, el("th", {}, t("devices.kind")), el("th", {}, t("devices.state")),
        el("th", {}, t("devices.battery")),
        el("th", {}, t("devices.seen")))),
      el("tbody", {}, devices.map((d) => el("tr", {},
        el("td", { title: d.uid }, label("device", d.kind)),
        el("td", {}, el("span", { class: `badge ${d.online ? "ok" : "warn"}` },
          t(d.online ? "devices.online" : "devices.offline"))),
        el("td", { class: d.battery !== null && d.battery < 20 ? "low" : undefined },
          d.battery === null ? "—" : `${d.battery}%${d.charging ? ` ${t("devices.charging")}` : ""}`),
        el("td", { title: formatTime(d.last_seen_at) }, d.last_seen_at ? ago(d.last_seen_at) : "—")))));
  }

  tasksBody(tasks) {
    if (!tasks.length) return el("p", { class: "muted" }, "—");
    return el("ul", { class: "tasks-list" }, tasks.map((task) => el("li", {},
      el("strong", {}, task.station_name || `#${task.station_id}`), " · ", label("task", task.status),
      task.travel_min !== null ? ` · ${t("tasks.travel", { m: Math.ceil(task.travel_min) })}` : "",
      task.responder ? ` · ${task.responder_name || task.responder}` : "", el("span", { class: "muted" }, ` · ${formatTime(task.offered_at)}`))));
  }

  trailTable(transitions) {
    // Scrolls inside its card: it takes the focus so a keyboard can scroll it too.
    return el("div", { class: "trail-scroll", tabindex: "0", role: "region", "aria-label": t("trail.heading") },
      el("table", { class: "dense", id: "trail" },
      el("thead", {}, el("tr", {}, el("th", {}, t("trail.when")), el("th", {}, t("trail.who")),
        el("th", {}, t("trail.what")))),
      el("tbody", {}, [...transitions].reverse().map((s) => el("tr", { class: isProblem(s.detail) ? "problem" : undefined },
        el("td", { class: "nowrap" }, formatTime(s.at)), el("td", {}, actorName(s)),
        el("td", {}, el("strong", {}, label("change", s.detail?.change || s.to_status)),
          s.from_status && s.from_status !== s.to_status ? el("span", { class: "muted" },
            ` ${label("status", s.from_status)} → ${label("status", s.to_status)}`) : null,
          stepText(s.detail) ? el("div", { class: "reason" }, stepText(s.detail)) : null,
          s.reason ? el("div", { class: "reason" }, s.reason) : null))))));
  }

  pastTable(incidents) {
    const past = incidents.filter((p) => p.id !== this.id);
    if (!past.length) return el("p", { class: "muted" }, t("past.none"));
    return el("table", { class: "dense" }, el("tbody", {}, past.map((p) => el("tr", {},
      el("td", { class: "nowrap" }, formatTime(p.opened_at, { seconds: false })),
      el("td", {}, label("cause", p.cause)), el("td", {}, t("priority", { p: p.priority })),
      el("td", {}, p.outcome ? label("outcome", p.outcome) : label("status", p.status))))));
  }

  async loadTrack(id, token) {
    if (!this.track) return;
    const [track, map] = await Promise.all([api(`incidents/${id}/track`), import("./map.js")]);
    if (token === this.token) map.drawTrack(this.track, track);
  }

  async loadVitals(residentId, token) {
    const end = new Date(), start = new Date(end.getTime() - VITALS_HOURS * 3600e3);
    const range = `start=${encodeURIComponent(start.toISOString())}&end=${encodeURIComponent(end.toISOString())}`;
    const metrics = [["heart_rate", "vitals.hr", t("unit.bpm"), {}], ["spo2", "vitals.spo2", "%", { max: 100 }],
      ["activity", "vitals.activity", t("unit.activity"), { min: 0 }]];
    try {
      const [recent, ...rollups] = await Promise.all([api(`residents/${residentId}/vitals/recent`),
        ...metrics.map(([m]) => api(`residents/${residentId}/vitals/rollups?metric=${m}&${range}&resolution=1m`))]);
      if (token !== this.token) return;
      const latest = Object.fromEntries(recent.latest.map((v) => [v.metric, v]));
      this.vitals.replaceChildren(...metrics.map(([metric, name, unit, scale], k) => {
        const now = latest[metric];
        const value = now ? `${Math.round(now.value * 10) / 10}${unit ? ` ${unit}` : ""}` : t("vitals.none");
        return el("div", { class: "vital", dataset: { metric } }, el("span", { class: "v-name" }, t(name)),
          sparkline(rollups[k].buckets, start.getTime(), end.getTime(), scale),
          el("span", { class: "v-value", title: now ? formatTime(now.ts) : "" }, value));
      }));
    } catch (err) {
      if (token === this.token) this.vitals.replaceChildren(el("p", { class: "muted" }, err.message));
    }
  }

  // --- actions -------------------------------------------------------------------------------------

  /** Run an action by name (a button or its key); nothing when it does not apply now. */
  act(name) {
    const button = this.buttons?.[name];
    if (!button || button.disabled || !this.id) return;
    const run = {
      ack: () => this.post("acknowledge", {}, t("done.ack")),
      help: () => this.post("help-coming", {}, t("done.help")),
      call: () => this.call(),
      dispatch: () => this.dispatchDialog(),
      family: () => this.familyDialog(),
      note: () => this.noteDialog(),
      resolve: () => this.resolveDialog(),
    }[name];
    run();
  }

  async post(path, body, done) {
    try {
      const result = await api(`incidents/${this.id}/${path}`, { method: "POST", body });
      if (result?.resident_id !== undefined && result.id === this.id) this.queue.apply(result); // an incident back
      if (done) toast(done);
      this.scheduleReload();
      return result;
    } catch (err) {
      toast(t("error.generic", { detail: err.message }), "error");
      return null;
    }
  }

  async call() {
    // The panel places the call; placing it moves the incident to "in call" (one line on the audit trail).
    const { id, incident } = this;
    const section = this.callPanel;
    import("/static/js/call.js").then((m) => m.mountCallPanel(section, { incidentId: id,
      residentId: incident.resident_id, incident: this.incident }))
      .catch((err) => toast(t("error.generic", { detail: err.message }), "error"));
  }

  dialog(id, heading, body, onConfirm) {
    const confirm = el("button", { class: "primary", type: "submit", id: `${id}-confirm` }, t("act.confirm"));
    const box = el("dialog", { id, class: "console-dialog", "aria-labelledby": `${id}-title` });
    const form = el("form", { method: "dialog", onsubmit: async (event) => {
      event.preventDefault();
      confirm.disabled = true;
      if ((await onConfirm(form)) !== false) box.close(); else confirm.disabled = false;
    } },
    el("h2", { id: `${id}-title` }, heading), body,
    el("div", { class: "row end" }, el("button", { type: "button", onclick: () => box.close() }, t("act.close"),
      " ", el("kbd", {}, "Esc")), confirm));
    box.append(form);
    box.addEventListener("close", () => box.remove());
    document.body.append(box);
    box.showModal();
    return { box, confirm };
  }

  /** Send a station, or record a call to the emergency services and their answer. Something sensible is always
   * chosen: the suggested station, else the emergency service the cause calls for. */
  async dispatchDialog() {
    const options = el("div", { class: "stations", role: "radiogroup", "aria-label": t("dispatch.heading") },
      el("p", { class: "muted" }, t("dispatch.loading")));
    const answer = el("select", { id: "emergency-answer" },
      ["sent", "advice", "refused", "no_answer"].map((code) => el("option", { value: code }, label("answer", code))));
    const answerRow = el("div", { class: "emergency-answer", hidden: true },
      el("label", { for: "emergency-answer" }, t("dispatch.answer")), answer);
    const hint = el("p", { class: "muted", id: "dispatch-hint" });
    const { confirm } = this.dialog("dispatch-dialog", t("dispatch.heading"), el("div", {}, options, answerRow, hint),
      async (form) => {
        const chosen = form.querySelector("input[name=target]:checked");
        if (!chosen) return false;
        const name = chosen.closest("label").dataset.name;
        if (chosen.dataset.service) {
          return (await this.post("emergency-services", { service: chosen.dataset.service, answer: answer.value },
            t("done.emergency", { service: name, answer: label("answer", answer.value) }))) !== null;
        }
        return (await this.post("dispatch", { station_id: Number(chosen.value) }, t("done.dispatch", { station: name })))
          !== null;
      });
    const sync = () => {
      const chosen = options.querySelector("input[name=target]:checked");
      answerRow.hidden = !chosen?.dataset.service;
      confirm.disabled = !chosen;
      hint.textContent = chosen ? "" : t("dispatch.pick");
    };
    options.addEventListener("change", sync);
    confirm.disabled = true;
    try {
      const [stations, services] = await Promise.all([api(`incidents/${this.id}/stations`),
        api(`incidents/${this.id}/emergency-services`)]);
      const suggested = stations.find((s) => s.available) || null;
      const stationOptions = stations.map((s) => el("label", { class: `station-opt${s.available ? "" : " off"}`,
        dataset: { name: s.name, station: s.station_id } },
      el("input", { type: "radio", name: "target", value: s.station_id, checked: s === suggested }),
      el("span", { class: "s-name" }, s.name),
      el("span", { class: "s-travel" }, s.travel_min >= 0 ? t("dispatch.travel", { m: Math.ceil(s.travel_min) })
        : t("dispatch.unknown")),
      s === suggested ? el("span", { class: "badge ok" }, t("dispatch.suggested")) : null,
      s.home ? el("span", { class: "badge" }, t("dispatch.home")) : null,
      el("span", { class: "muted s-reason" }, because(s.why))));
      const serviceOptions = services.map((o) => el("label", { class: "station-opt emergency",
        dataset: { name: label("service", o.service), service: o.service } },
      el("input", { type: "radio", name: "target", value: o.service, "data-service": o.service,
        checked: !suggested && o.by_cause }),
      el("span", { class: "s-name" }, label("service", o.service)),
      el("span", { class: "s-travel" }, o.number),
      !suggested && o.by_cause ? el("span", { class: "badge ok" }, t("dispatch.suggested")) : null,
      o.by_cause ? el("span", { class: "badge" }, t("dispatch.byCause")) : null));
      options.replaceChildren(el("h3", {}, t("dispatch.stations")), ...stationOptions,
        el("h3", {}, t("dispatch.emergency")), ...serviceOptions);
      sync();
      confirm.focus();
    } catch (err) {
      options.replaceChildren(el("p", { class: "error" }, err.message));
      hint.textContent = t("dispatch.pick");
    }
  }

  noteDialog() {
    const text = el("textarea", { id: "note-text", required: true, maxlength: 2000,
      placeholder: t("note.placeholder"), "aria-label": t("note.heading"),
      onkeydown: (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) e.target.form.requestSubmit(); } });
    this.dialog("note-dialog", t("note.heading"), text, async () =>
      (await this.post("notes", { note: text.value.trim() }, t("done.note"))) !== null);
    text.focus();
  }

  familyDialog() {
    const text = el("input", { id: "family-note", maxlength: 1000 });
    this.dialog("family-dialog", t("family.heading"), el("div", {},
      el("label", { for: "family-note" }, t("family.note")), text), async () => {
      const note = text.value.trim();
      return (await this.post("notify-family", note ? { note } : {}, t("done.family"))) !== null;
    });
    text.focus();
  }

  resolveDialog() {
    const codes = Object.keys(OUTCOMES).filter((code) => code !== "cancelled_by_resident"
      || ["pre_alarm", "open", "acknowledged", "in_call"].includes(this.incident.status));
    const outcome = el("select", { id: "resolve-outcome", required: true },
      codes.map((code) => el("option", { value: code }, label("outcome", code))));
    const note = el("input", { id: "resolve-note", maxlength: 2000 });
    this.dialog("resolve-dialog", t("resolve.heading"), el("div", {},
      el("label", { for: "resolve-outcome" }, t("resolve.outcome")), outcome,
      el("label", { for: "resolve-note" }, t("resolve.note")), note), async () => {
      const body = note.value.trim() ? { note: note.value.trim() } : {};
      // The resident calling it off is a cancellation, which has its own action.
      const result = outcome.value === "cancelled_by_resident" ? await this.post("cancel", body, t("done.resolve"))
        : await this.post("resolve", { ...body, outcome: outcome.value }, t("done.resolve"));
      return result !== null;
    });
    outcome.focus();
  }
}
