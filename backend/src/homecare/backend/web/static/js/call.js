// The call panel of the incident screen: voice (and consented video) with the home unit over WebRTC, the call's
// state and timer, mute and volume, retry after a drop, the incident's calls, and ringing the family back.
import { addStrings, ago, api, clock, el, formatTime, t, toast } from "./common.js";
import { relation } from "./labels.js";

addStrings({
  zh: {
    "call.heading": "与家中通话", "call.start": "呼叫家中设备", "call.retry": "重新呼叫", "call.hangup": "挂断",
    "call.mute": "静音", "call.unmute": "取消静音", "call.volume": "音量", "call.level": "对方声音",
    "call.video": "开启摄像头（老人已同意）", "call.noUnit": "此老人家中没有可通话的设备",
    "call.recorded": "本通话将录音存档", "call.state.idle": "未通话", "call.state.calling": "正在呼叫…",
    "call.state.ringing": "振铃中…", "call.state.connected": "通话中", "call.state.dropped": "通话中断",
    "call.state.ended": "通话已结束", "call.state.failed": "无法接通",
    "call.outcome.completed": "已接通", "call.outcome.refused": "被拒绝", "call.outcome.failed": "未能接通",
    "call.outcome.dropped": "中断", "call.outcome.no_answer": "无人接听", "call.history": "本事件的通话",
    "call.none": "尚无通话", "call.by": "{who} 发起", "call.duration": "通话 {d}",
    "call.family": "回拨家属", "call.reached": "已接通", "call.noAnswer": "未接听", "call.noContacts": "没有登记家属电话",
    "call.familyDone": "已记录：{name} {outcome}", "call.mic": "无法使用麦克风：{detail}",
    "call.offline": "家庭主机离线（最后联系：{ago}），现在呼叫无法接通", "call.offlineNever": "家庭主机离线（从未联系过）",
  },
  en: {
    "call.heading": "Talk to the home", "call.start": "Call the home unit", "call.retry": "Call again",
    "call.hangup": "Hang up", "call.mute": "Mute", "call.unmute": "Unmute", "call.volume": "Volume",
    "call.level": "Their voice", "call.video": "Camera on (the resident consented)",
    "call.noUnit": "This resident has no home unit to call", "call.recorded": "This call is recorded for audit",
    "call.state.idle": "Not in a call", "call.state.calling": "Calling…", "call.state.ringing": "Ringing…",
    "call.state.connected": "Connected", "call.state.dropped": "Call dropped", "call.state.ended": "Call ended",
    "call.state.failed": "Could not connect", "call.outcome.completed": "answered", "call.outcome.refused": "refused",
    "call.outcome.failed": "failed", "call.outcome.dropped": "dropped", "call.outcome.no_answer": "no answer",
    "call.history": "Calls on this incident", "call.none": "No calls yet", "call.by": "by {who}",
    "call.duration": "talked {d}", "call.family": "Call the family back", "call.reached": "Reached",
    "call.noAnswer": "No answer", "call.noContacts": "No family number on file",
    "call.familyDone": "Recorded: {name} {outcome}", "call.mic": "The microphone cannot be used: {detail}",
    "call.offline": "The home unit is offline (last heard from {ago}): a call cannot connect now",
    "call.offlineNever": "The home unit is offline (never heard from)",
  },
});

const panels = new WeakMap();
const LIVE = new Set(["calling", "ringing", "connected"]);
// What the panel shows once the platform says how a call ended.
const SHOWN_AFTER = { completed: "ended", refused: "failed", failed: "failed", dropped: "dropped", no_answer: "failed" };

function ensureStyles() {
  if (document.querySelector("link[data-call-css]")) return;
  const version = new URL(import.meta.url).search;
  document.head.append(el("link", { rel: "stylesheet", href: `/static/css/call.css${version}`, dataset: { callCss: "" } }));
}

class CallPanel {
  constructor(container, { incidentId, residentId }) {
    this.container = container;
    this.incidentId = incidentId;
    this.residentId = residentId;
    this.state = "idle";
    this.setup = null;
    this.call = null;
    this.pc = null;
    this.socket = null;
    this.mic = null;
    this.muted = false;
    this.answeredAt = null;
    this.ticker = null;
  }

  live() { return LIVE.has(this.state); }

  watchPage() {
    // Closing or leaving the page hangs up rather than leaving the resident on a silent line until it drops.
    window.addEventListener("pagehide", () => { if (this.live()) this.hangup(); });
  }

  async mount({ autostart }) {
    ensureStyles();
    this.stateBadge = el("span", { id: "call-state", class: "badge", role: "status" });
    this.timer = el("span", { id: "call-timer", class: "call-timer" }, "0:00");
    this.startButton = el("button", { id: "call-start", class: "primary", onclick: () => this.start() }, t("call.start"));
    this.hangupButton = el("button", { id: "call-hangup", class: "danger", onclick: () => this.hangup() },
      t("call.hangup"));
    this.muteButton = el("button", { id: "call-mute", "aria-pressed": "false", onclick: () => this.toggleMute() },
      t("call.mute"));
    this.volume = el("input", { id: "call-volume", type: "range", min: "0", max: "1", step: "0.05", value: "1",
      "aria-label": t("call.volume"), oninput: () => { this.audio.volume = Number(this.volume.value); } });
    this.level = el("meter", { id: "call-level", min: "0", max: "1", value: "0", "aria-label": t("call.level"),
      dataset: { peak: "0" } });
    this.audio = el("audio", { id: "call-audio", autoplay: true });
    this.video = el("video", { id: "call-video", autoplay: true, playsinline: true, muted: true, hidden: true });
    this.videoToggle = el("input", { type: "checkbox", id: "call-video-toggle" });
    this.videoRow = el("label", { class: "call-video-toggle", hidden: true }, this.videoToggle, " ", t("call.video"));
    this.note = el("p", { class: "muted call-note" });
    this.offline = el("p", { class: "call-offline", id: "call-offline", hidden: true });
    this.history = el("ul", { id: "call-history", class: "call-history" });
    this.family = el("ul", { id: "call-family", class: "call-family" });
    this.container.classList.add("call-panel");
    this.container.replaceChildren(
      el("div", { class: "call-head" }, el("h2", {}, t("call.heading")), this.stateBadge, this.timer),
      el("div", { class: "call-controls", role: "toolbar" }, this.startButton, this.hangupButton, this.muteButton,
        el("label", { class: "call-volume" }, t("call.volume"), " ", this.volume),
        el("label", { class: "call-level" }, t("call.level"), " ", this.level)),
      this.videoRow, this.offline, this.note, this.audio, this.video,
      el("div", { class: "call-lists" },
        el("div", {}, el("h3", {}, t("call.history")), this.history),
        el("div", {}, el("h3", {}, t("call.family")), this.family)));
    this.show("idle");
    try {
      this.setup = await api(`incidents/${this.incidentId}/call-setup`);
    } catch (err) {
      toast(t("error.generic", { detail: err.message }), "error");
      return;
    }
    this.videoRow.hidden = !this.setup.video_consented;
    this.showPresence();
    this.note.textContent = [this.setup.home_unit ? null : t("call.noUnit"),
      this.setup.recording ? t("call.recorded") : null].filter(Boolean).join(" · ");
    this.startButton.disabled = !this.setup.home_unit;
    this.drawFamily();
    await this.drawHistory();
    if (autostart && this.setup.home_unit) await this.start();
  }

  /** Say at once that the home unit is offline, before anyone waits for a call that cannot connect. */
  showPresence() {
    const setup = this.setup;
    this.offline.hidden = !setup?.home_unit || setup.home_unit_online !== false;
    this.offline.textContent = setup?.home_unit_last_contact
      ? t("call.offline", { ago: ago(setup.home_unit_last_contact) }) : t("call.offlineNever");
  }

  show(state) {
    this.state = state;
    this.container.dataset.state = state;
    this.stateBadge.textContent = t(`call.state.${state}`);
    this.stateBadge.className = `badge call-${state} ${state === "connected" ? "ok" : ["dropped", "failed"]
      .includes(state) ? "bad" : state === "ended" || state === "idle" ? "" : "warn"}`;
    const live = this.live();
    this.startButton.hidden = live;
    this.startButton.textContent = state === "idle" ? t("call.start") : t("call.retry");
    this.hangupButton.hidden = !live;
    this.muteButton.disabled = state !== "connected";
    this.videoToggle.disabled = live;
    if (state === "connected" && this.answeredAt === null) this.answeredAt = Date.now();
    if (live && !this.ticker) this.ticker = setInterval(() => this.tick(), 250);
    if (!live && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  async tick() {
    // The incident screen drew something else over the panel: a call nobody can see or end must not go on.
    if (!this.container.isConnected) {
      this.hangup();
      this.teardown();
      this.show("ended");
      return;
    }
    if (this.answeredAt === null || !this.pc) return;
    this.timer.textContent = clock((Date.now() - this.answeredAt) / 1000);
    const stats = await this.pc.getStats();
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "audio") {
        const level = report.audioLevel ?? 0;
        this.level.value = level;
        this.level.dataset.peak = String(Math.max(Number(this.level.dataset.peak), level));
        this.level.dataset.bytes = String(report.bytesReceived ?? 0);
      }
    });
  }

  async start() {
    if (this.live()) return;
    this.teardown();
    this.timer.textContent = "0:00";
    this.answeredAt = null;
    this.level.dataset.peak = "0";
    this.show("calling");
    let placed;
    try {
      placed = await api(`incidents/${this.incidentId}/calls`, { method: "POST",
        body: { video: Boolean(this.setup?.video_consented && this.videoToggle.checked) } });
    } catch (err) {
      // Refused because the unit is offline: the panel says so in the reader's words, not the server's.
      if (err.status === 409) this.setup = await api(`incidents/${this.incidentId}/call-setup`).catch(() => this.setup);
      if (err.status === 409 && this.setup.home_unit_online === false) this.showPresence();
      else toast(t("error.generic", { detail: err.message }), "error");
      this.show("failed");
      return;
    }
    this.call = placed.call;
    this.container.dataset.callId = placed.call.id;
    this.pc = new RTCPeerConnection({ iceServers: placed.ice_servers.map(({ urls, username, credential }) =>
      (username ? { urls, username, credential } : { urls })) });
    this.pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      if (event.track.kind === "audio") this.audio.srcObject = stream;
      else { this.video.srcObject = stream; this.video.hidden = false; }
    };
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${placed.signal_path}`);
    this.socket = socket;
    socket.onmessage = (event) => this.onMessage(JSON.parse(event.data)).catch((err) => {
      toast(t("error.generic", { detail: err.message }), "error");
      this.hangup();
    });
    socket.onclose = () => {
      if (this.socket === socket && this.live()) this.ended(this.state === "connected" ? "dropped" : "failed");
    };
  }

  async onMessage(message) {
    if (message.type === "offer") await this.answer(message.sdp);
    else if (message.type === "state" && message.state === "ended") this.ended(message.outcome);
    else if (message.type === "state") {
      this.show(message.state);
      this.drawHistory();
    }
    else if (message.type === "refused") toast(t("error.generic", { detail: message.detail }), "error");
  }

  async answer(sdp) {
    const pc = this.pc;
    await pc.setRemoteDescription({ type: "offer", sdp });
    try {
      this.mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      toast(t("call.mic", { detail: err.message }), "error");
      throw err;
    }
    for (const track of this.mic.getAudioTracks()) pc.addTrack(track, this.mic);
    await pc.setLocalDescription(await pc.createAnswer());
    // The platform's peer does not trickle ICE: send the answer once every candidate is in it.
    if (pc.iceGatheringState !== "complete") {
      await new Promise((resolve) => {
        pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
      });
    }
    this.socket.send(JSON.stringify({ type: "answer", sdp: pc.localDescription.sdp }));
  }

  ended(outcome) {
    this.show(SHOWN_AFTER[outcome] || "ended");
    this.teardown();
    this.drawHistory();
  }

  hangup() {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "hangup" }));
    else if (this.call) api(`calls/${this.call.id}/hangup`, { method: "POST", body: {} }).catch(() => {});
  }

  toggleMute() {
    this.muted = !this.muted;
    for (const track of this.mic?.getAudioTracks() || []) track.enabled = !this.muted;
    this.muteButton.setAttribute("aria-pressed", String(this.muted));
    this.muteButton.textContent = this.muted ? t("call.unmute") : t("call.mute");
  }

  teardown() {
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.pc?.close();
    this.pc = null;
    for (const track of this.mic?.getTracks() || []) track.stop();
    this.mic = null;
    this.muted = false;
    this.muteButton.setAttribute("aria-pressed", "false");
    this.muteButton.textContent = t("call.mute");
  }

  async drawHistory() {
    let calls;
    try {
      calls = await api(`incidents/${this.incidentId}/calls`);
    } catch {
      return;
    }
    this.history.replaceChildren(...(calls.length ? calls.slice().reverse().map((c) => el("li",
      { dataset: { callId: c.id, outcome: c.outcome || c.state } },
      el("span", {}, formatTime(c.started_at)), " ", el("span", {}, t("call.by", { who: c.started_by_name || c.started_by })), " · ",
      el("strong", {}, c.outcome ? t(`call.outcome.${c.outcome}`) : t(`call.state.${c.state}`)),
      c.duration_s !== null ? ` · ${t("call.duration", { d: clock(c.duration_s) })}` : null))
      : [el("li", { class: "muted" }, t("call.none"))]));
  }

  drawFamily() {
    const contacts = this.setup.contacts;
    if (!contacts.length) {
      this.family.replaceChildren(el("li", { class: "muted" }, t("call.noContacts")));
      return;
    }
    this.family.replaceChildren(...contacts.map((c) => {
      const outcome = el("span", { class: "call-family-outcome" });
      const record = (value) => async () => {
        try {
          await api(`incidents/${this.incidentId}/family-callbacks`, { method: "POST",
            body: { contact_id: c.id, outcome: value } });
          const said = value === "reached" ? t("call.reached") : t("call.noAnswer");
          outcome.textContent = said;
          toast(t("call.familyDone", { name: c.name, outcome: said }));
        } catch (err) {
          toast(t("error.generic", { detail: err.message }), "error");
        }
      };
      return el("li", { dataset: { contactId: c.id } },
        el("span", { class: "call-family-name" }, c.name, c.relation ? ` (${relation(c.relation)})` : ""), " ",
        c.phone ? el("a", { href: `tel:${c.phone}` }, c.phone) : "—", " ",
        el("button", { class: "small", onclick: record("reached") }, t("call.reached")),
        el("button", { class: "small", onclick: record("no_answer") }, t("call.noAnswer")), " ", outcome);
    }));
  }
}

/**
 * Draw the call controls for an incident into container (the console's section#call-panel) and place the call:
 * the console mounts the panel when the operator asks to call the home. Mounting again while a call is live keeps
 * it; after a call has ended, mounting again calls again.
 */
export function mountCallPanel(container, { incidentId, residentId, incident }) {
  const existing = panels.get(container);
  if (existing && existing.incidentId === incidentId) {
    if (!existing.live()) existing.start();
    return existing;
  }
  existing?.teardown();
  const panel = new CallPanel(container, { incidentId, residentId, incident });
  panels.set(container, panel);
  panel.watchPage();
  panel.mount({ autostart: true });
  return panel;
}
