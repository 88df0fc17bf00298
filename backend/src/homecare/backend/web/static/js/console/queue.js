// The live queue: rows kept in priority-then-age order and updated in place; one ticker for every timer.
import { clock, el, t } from "../common.js";
import { label } from "../labels.js";

export const CLOSED = new Set(["resolved", "cancelled"]);
export const WAITING = new Set(["pre_alarm", "open"]); // not yet taken by an operator
// The answer targets of the escalation policy in force (GET /api/incidents/escalation/targets): a waiting alarm's
// timer turns amber at the target and red at the limit. Set once by the console before the queue is loaded.
const answer = { amberS: Infinity, redS: Infinity };

/** Use these answer targets ({ target: { within_s }, limit: { within_s } }) for every timer from now on. */
export function useAnswerTargets(targets) {
  answer.amberS = targets.target.within_s;
  answer.redS = targets.limit.within_s;
}

function order(a, b) {
  // A failed dispatch (nobody on the way) heads the queue again, then the most urgent, then the oldest.
  return !a.incident.attention - !b.incident.attention || a.incident.priority - b.incident.priority
    || a.openedMs - b.openedMs || a.incident.id - b.incident.id;
}

/** The timer of one incident now: text and tone (countdown, ok, amber, red, quiet). */
export function timerOf(incident, now = Date.now()) {
  if (incident.status === "pre_alarm" && incident.recovery_deadline) {
    const left = (Date.parse(incident.recovery_deadline) - now) / 1000;
    return { text: t("queue.left", { t: clock(left) }), tone: "countdown", left };
  }
  const since = Date.parse(incident.alarm_at || incident.opened_at);
  const elapsed = (now - since) / 1000;
  if (incident.status === "open") {
    return { text: clock(elapsed), tone: elapsed >= answer.redS ? "red" : elapsed >= answer.amberS ? "amber" : "ok" };
  }
  return { text: clock((now - Date.parse(incident.opened_at)) / 1000), tone: "quiet" };
}

export class Queue {
  /** list: the <ol> to fill; onPick(id) when a row is clicked; onTick(now) on each second of the one ticker. */
  constructor(list, { onPick, onTick }) {
    this.list = list;
    this.onPick = onPick;
    this.onTick = onTick;
    this.entries = new Map(); // id → { incident, openedMs, row, cells, timerText, timerTone }
    this.sorted = [];
    this.selected = null;
    this.tabStop = null; // the one row Tab lands on (roving tabindex): the selected one, else the first
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  /** Replace everything with the queue as the API returned it. */
  load(incidents) {
    this.entries.clear();
    this.sorted = [];
    for (const incident of incidents) {
      if (CLOSED.has(incident.status)) continue;
      const entry = this.make(incident);
      this.entries.set(incident.id, entry);
      this.sorted.push(entry);
    }
    this.sorted.sort(order);
    this.list.replaceChildren(...this.sorted.map((e) => e.row));
    this.tabStop = null;
    this.moveTabStop();
    this.tick();
  }

  /** Apply one snapshot from the feed. Returns "added", "removed", "updated" or null (nothing to do). */
  apply(incident) {
    const entry = this.entries.get(incident.id);
    if (CLOSED.has(incident.status)) {
      if (!entry) return null;
      this.entries.delete(incident.id);
      this.sorted.splice(this.indexOf(entry), 1);
      entry.row.remove();
      this.moveTabStop();
      return "removed";
    }
    if (!entry) {
      const added = this.make(incident);
      this.entries.set(incident.id, added);
      this.insert(added);
      added.fresh = true; // highlighted for a few seconds, so the eye finds the new row
      added.row.classList.add("fresh");
      setTimeout(() => { added.fresh = false; added.row.classList.remove("fresh"); }, 4000);
      this.moveTabStop();
      return "added";
    }
    const moved = entry.incident.priority !== incident.priority || entry.incident.opened_at !== incident.opened_at
      || !entry.incident.attention !== !incident.attention;
    entry.incident = incident;
    entry.openedMs = Date.parse(incident.opened_at);
    this.fill(entry);
    if (moved) {
      this.sorted.splice(this.indexOf(entry), 1);
      this.insert(entry);
    }
    return "updated";
  }

  get(id) { return this.entries.get(id)?.incident; }
  get size() { return this.entries.size; }
  waiting() {
    let n = 0;
    for (const entry of this.sorted) if (WAITING.has(entry.incident.status) || entry.incident.attention) n += 1;
    return n;
  }

  select(id) {
    if (this.selected !== null) this.entries.get(this.selected)?.row.setAttribute("aria-selected", "false");
    this.selected = id;
    const entry = id === null ? undefined : this.entries.get(id);
    if (entry) {
      entry.row.setAttribute("aria-selected", "true");
      entry.row.scrollIntoView({ block: "nearest" });
    }
    this.moveTabStop();
  }

  /** Focus the row of an incident (moving through the list from the keyboard keeps the focus in it). */
  focus(id) { this.entries.get(id)?.row.focus(); }

  moveTabStop() {
    const entry = (this.selected !== null && this.entries.get(this.selected)) || this.sorted[0] || null;
    if (entry === this.tabStop) return;
    this.tabStop?.row.setAttribute("tabindex", "-1");
    entry?.row.setAttribute("tabindex", "0");
    this.tabStop = entry;
  }

  /** The id step rows away from the selected one (the first row when nothing is selected). */
  neighbour(step) {
    if (!this.sorted.length) return null;
    const at = this.selected === null ? -1 : this.sorted.findIndex((e) => e.incident.id === this.selected);
    if (at < 0) return this.sorted[0].incident.id;
    return this.sorted[Math.min(this.sorted.length - 1, Math.max(0, at + step))].incident.id;
  }

  tick(now = Date.now()) {
    for (const entry of this.sorted) {
      const { text, tone } = timerOf(entry.incident, now);
      if (text !== entry.timerText) { entry.cells.timer.textContent = text; entry.timerText = text; }
      if (tone !== entry.timerTone) { entry.cells.timer.className = `q-timer ${tone}`; entry.timerTone = tone; }
    }
    this.onTick?.(now);
  }

  // --- rows ----------------------------------------------------------------------------------------

  make(incident) {
    const cells = {
      prio: el("span", { class: "q-prio" }), name: el("span", { class: "q-name" }),
      cause: el("span", { class: "q-cause" }), status: el("span", { class: "q-status" }),
      timer: el("span", { class: "q-timer" }),
    };
    const row = el("li", { role: "option", "aria-selected": "false", tabindex: "-1",
      onclick: () => this.onPick(incident.id),
      onkeydown: (event) => {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        this.onPick(incident.id);
      } },
    cells.prio, el("span", { class: "q-main" }, cells.name, cells.cause), cells.status, cells.timer);
    const entry = { incident, openedMs: Date.parse(incident.opened_at), row, cells, timerText: "", timerTone: "" };
    this.fill(entry);
    return entry;
  }

  fill(entry) {
    const { incident, row, cells } = entry;
    row.dataset.id = incident.id;
    row.dataset.status = incident.status;
    row.className = `q-row p${incident.priority} s-${incident.status}${incident.attention ? " attention" : ""}`
      + `${entry.fresh ? " fresh" : ""}`;
    cells.prio.textContent = t("priority", { p: incident.priority });
    cells.prio.title = t("priority.title", { p: incident.priority });
    cells.name.textContent = incident.resident_name || `#${incident.resident_id}`;
    cells.cause.textContent = label("cause", incident.cause);
    cells.status.textContent = incident.attention ? t("queue.attention") : label("status", incident.status);
    cells.timer.title = incident.status === "pre_alarm" ? t("queue.countdown") : "";
    const { text, tone } = timerOf(incident);
    cells.timer.textContent = entry.timerText = text;
    cells.timer.className = `q-timer ${tone}`;
    entry.timerTone = tone;
  }

  indexOf(entry) {
    // Binary search by the sort key, then step to the exact entry (keys are unique by id).
    let lo = 0, hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(this.sorted[mid], entry) < 0) lo = mid + 1; else hi = mid;
    }
    if (this.sorted[lo] === entry) return lo;
    return this.sorted.indexOf(entry); // its key changed before it was re-sorted
  }

  insert(entry) {
    let lo = 0, hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(this.sorted[mid], entry) < 0) lo = mid + 1; else hi = mid;
    }
    const before = this.sorted[lo];
    this.sorted.splice(lo, 0, entry);
    this.list.insertBefore(entry.row, before ? before.row : null);
  }
}
