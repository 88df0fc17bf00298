// Shared by every page: the API client, the signed-in user, translations, times in the user's zone, the top bar.

const STRINGS = { zh: {}, en: {} };
const LANG_KEY = "homecare.lang";
let current = { me: null, lang: "zh" };

/** Add a page's strings: addStrings({ zh: { key: "…" }, en: { key: "…" } }). */
export function addStrings(table) {
  for (const lang of Object.keys(STRINGS)) Object.assign(STRINGS[lang], table[lang] || {});
}

/** The text for a key in the current language, with {name} placeholders filled from vars. */
export function t(key, vars = {}) {
  const text = STRINGS[current.lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function lang() { return current.lang; }
export function me() { return current.me; }
/** The zone times are shown in: the user's, else the browser's. */
export function zone() { return current.me?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone; }

addStrings({
  zh: {
    app: "居家养老守护", signOut: "退出", language: "语言", "nav.console": "接警台", "nav.station": "服务站",
    "nav.family": "家人", "nav.admin": "管理", "error.network": "网络中断，正在重试…", "error.generic": "出错了：{detail}",
    "error.session": "登录已过期，请重新登录", "date.placeholder": "年-月-日",
    "date.invalid": "请按“年-月-日”填写日期，例如 2026-12-04", "date.min": "不能早于{day}", "date.max": "不能晚于{day}", zone: "显示时间所用时区", "role.admin": "管理员", "role.supervisor": "值班主管",
    "role.operator": "接警员", "role.responder": "服务站人员", "role.visitor": "巡访员", "role.carer": "上门服务人员",
    "role.family": "家属",
    "nav.visits": "巡访", "nav.carer": "上门服务", "nav.bookings": "服务预约",
    "ago.s": "{n} 秒前", "ago.m": "{n} 分钟前", "ago.h": "{n} 小时前", "ago.d": "{n} 天前",
    menu: "设置", "menu.pages": "页面",
  },
  en: {
    app: "homecare", signOut: "Sign out", language: "Language", "nav.console": "Console", "nav.station": "Station",
    "nav.family": "Family", "nav.admin": "Admin", "error.network": "Connection lost, retrying…",
    "error.generic": "Something went wrong: {detail}", "error.session": "Your session has ended; please sign in again",
    zone: "Time zone for times shown", "date.placeholder": "yyyy-mm-dd",
    "date.invalid": "Enter the date as year-month-day, e.g. 2026-12-04", "date.min": "Not before {day}",
    "date.max": "Not after {day}",
    "role.admin": "Administrator", "role.supervisor": "Supervisor", "role.operator": "Operator",
    "role.responder": "Station responder", "role.visitor": "Welfare visitor", "role.carer": "Carer",
    "role.family": "Family",
    "nav.visits": "Visits", "nav.carer": "Home services", "nav.bookings": "Bookings",
    "ago.s": "{n} s ago", "ago.m": "{n} min ago", "ago.h": "{n} h ago", "ago.d": "{n} d ago",
    menu: "Settings", "menu.pages": "Pages",
  },
});

/** A refusal from the API in the reader's language: each item the server coded (its ``type``, filled from its
 * ``ctx``; a ``…_at`` value is a time, shown in the reader's zone) by the page's string "refusal.<type>", and
 * anything else in the server's own words. */
export function refusal(err) {
  if (!Array.isArray(err.detail)) return err.message;
  return err.detail.map((item) => {
    const key = `refusal.${item.type}`;
    if (!(key in STRINGS.en)) return item.msg;
    const ctx = Object.fromEntries(Object.entries(item.ctx || {}).map(([name, value]) =>
      [name, name.endsWith("_at") ? formatTime(value, { seconds: false }) : value]));
    return t(key, ctx);
  }).join("; ");
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

// Set once the user signs out: a page's own requests then answered 401 must not send the browser to sign in
// again "to come back here" over the sign-out's own way to the sign-in page.
let signingOut = false;

/** Call the JSON API (a Blob body is sent as it is, with its type). Throws ApiError with the server's detail; a
 * 401 sends the user to sign in. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body instanceof Blob) {
    init.headers["Content-Type"] = body.type;
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const url = path.startsWith("/") ? path : `/api/${path}`;
  const response = await fetch(url, init);
  if (response.status === 401 && url !== "/api/auth/login" && !signingOut) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
    throw new ApiError(401, t("error.session"));
  }
  const text = await response.text();
  const data = text && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? data ?? response.statusText);
  return data;
}

/** Tell a screen reader something that happened (a new alarm, an action's result), through the page's one small
 * log region: nothing else on the page is a live region, so per-second redraws are never read out. */
export function announce(message) {
  let log = document.getElementById("announcer");
  if (!log) {
    log = el("div", { id: "announcer", class: "visually-hidden", role: "log", "aria-live": "polite" });
    document.body.append(log);
  }
  log.append(el("p", {}, message));
  while (log.childElementCount > 5) log.firstElementChild.remove();
}

/** A short message at the bottom right; kind "error" is red. Screen readers hear it once, through announce(). */
export function toast(message, kind = "info", ms = 4000) {
  const box = el("div", { class: `toast ${kind}`, "aria-hidden": "true" }, message);
  document.body.append(box);
  announce(message);
  setTimeout(() => box.remove(), ms);
}

/** Create an element: el("button", { class: "primary", onclick }, "text", child…). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Date and time in the user's zone and language, e.g. 11月23日 14:05:09. */
export function formatTime(iso, { date = true, seconds = true } = {}) {
  if (!iso) return "—";
  const options = { timeZone: zone(), hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  if (date) Object.assign(options, { month: "short", day: "numeric" });
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", options).format(new Date(iso));
}

/** A typed day as an ISO day (YYYY-MM-DD), however it was written (2026-12-04, 2026/12/4, 2026年12月4日, 20261204),
 * or null when it is no day of the calendar. */
function isoDay(text) {
  const found = text.trim().match(/^(\d{4})\D*?(\d{1,2})\D*?(\d{1,2})\D*$/);
  if (!found) return null;
  const [y, m, d] = found.slice(1).map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return null;
  return day.toISOString().slice(0, 10);
}

/** A day spelled out in the page's language: 2026年12月4日星期五, Friday 4 December 2026. */
function spelledDay(iso) {
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", { dateStyle: "full", timeZone: "UTC" })
    .format(new Date(`${iso}T00:00:00Z`));
}

/** A date field in the page's language whatever the browser's: a native date input writes the day as the browser's
 * locale does (12/04/2026 on a Chinese page in an American browser). This one holds the day year first, as China
 * writes it (2026-12-04, which the form sends, like a date input's value), takes it typed with digits alone on a
 * phone, and spells the day out beside it in the page's language; ``min``, ``max`` and ``required`` refuse as a
 * date input's do, in the page's words. Returns the input and its spelled-out day (a fragment), for a label to
 * precede. */
export function dateInput({ id, min, max, value = "", ...attrs }) {
  const said = el("span", { class: "date-said muted", id: `${id}-said` });
  const input = el("input", { ...attrs, id, value, type: "text", inputmode: "numeric", autocomplete: "off",
    spellcheck: "false", size: 12, placeholder: t("date.placeholder"), "aria-describedby": said.id,
    lang: lang() === "zh" ? "zh-CN" : "en" });
  const check = () => {
    const day = isoDay(input.value);
    const refused = !input.value.trim() ? "" : !day ? t("date.invalid")
      : min && day < min ? t("date.min", { day: spelledDay(min) })
        : max && day > max ? t("date.max", { day: spelledDay(max) }) : "";
    input.setCustomValidity(refused);
    said.textContent = refused || (day ? spelledDay(day) : "");
    return day;
  };
  const settle = () => {
    const day = check();
    if (day && day !== input.value) input.value = day;
  };
  input.addEventListener("input", check);
  input.addEventListener("change", settle);
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") settle(); });
  check();
  const both = document.createDocumentFragment();
  both.append(input, said);
  return both;
}

/** "3 min ago" in the current language. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return t("ago.s", { n: s });
  if (s < 3600) return t("ago.m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("ago.h", { n: Math.floor(s / 3600) });
  return t("ago.d", { n: Math.floor(s / 86400) });
}

/** m:ss or h:mm:ss for a number of seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

function pickLanguage(user) {
  const stored = localStorage.getItem(LANG_KEY);
  if (stored === "zh" || stored === "en") return stored;
  return user?.language === "en" ? "en" : "zh";
}

async function setLanguage(value) {
  localStorage.setItem(LANG_KEY, value);
  if (current.me?.id) await api("auth/me", { method: "PATCH", body: { language: value } }).catch(() => {});
  location.reload();
}

// Zones offered besides the account's own and the browser's: where the users and their families live.
const ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Tokyo", "Asia/Seoul", "Asia/Singapore",
  "Australia/Sydney", "Europe/London", "Europe/Paris", "America/New_York", "America/Chicago", "America/Los_Angeles",
  "America/Vancouver"];

/** A zone's everyday name in the current language ("中国时间", "Eastern Time"), else its id. */
function zoneName(timeZone) {
  try {
    const parts = new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", { timeZone, timeZoneName: "longGeneric" })
      .formatToParts(new Date());
    const name = parts.find((part) => part.type === "timeZoneName")?.value;
    return name && name !== timeZone ? `${name} (${timeZone.split("/").pop().replace("_", " ")})` : timeZone;
  } catch { return timeZone; }
}

async function setZone(value) {
  await api("auth/me", { method: "PATCH", body: { timezone: value } });
  location.reload();
}

function zoneSwitch() {
  const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = [...new Set([zone(), browser, ...ZONES])];
  return el("select", { "aria-label": t("zone"), id: "zone-switch", onchange: (e) => setZone(e.target.value) },
    zones.map((z) => el("option", { value: z, selected: z === zone() }, zoneName(z))));
}

const NAV = {
  admin: ["console", "station", "visits", "bookings", "admin"],
  supervisor: ["console", "station", "visits", "bookings", "admin"], operator: ["console", "bookings"],
  responder: ["station", "bookings"], visitor: ["visits", "bookings"], carer: ["carer"], family: ["family"],
};

/** The blue bar on top: brand, the pages this role has, and one settings group (who is signed in, language,
 * zone, sign out) that folds into a menu on a phone. */
function topbar(page) {
  const user = current.me;
  const select = el("select", { "aria-label": t("language"), id: "lang-switch",
    onchange: (e) => setLanguage(e.target.value) },
  el("option", { value: "zh", selected: lang() === "zh" }, "中文"),
  el("option", { value: "en", selected: lang() === "en" }, "English"));
  const links = (NAV[user?.role] || []).map((name) => el("a", { href: `/${name}`,
    "aria-current": name === page ? "page" : undefined }, t(`nav.${name}`)));
  const settings = el("div", { class: "settings", id: "settings-menu" },
    user ? el("span", { class: "who", id: "who" }, `${user.display_name} · ${t(`role.${user.role}`)}`) : null,
    select, user?.id ? zoneSwitch() : null,
    user ? el("button", { id: "sign-out", onclick: async () => {
      signingOut = true;
      await api("auth/logout", { method: "POST" }).catch(() => {});
      location.assign("/login");
    } }, t("signOut")) : null);
  const toggle = el("button", { type: "button", class: "settings-toggle", id: "settings-toggle",
    "aria-expanded": "false", "aria-controls": "settings-menu", onclick: () => {
      const open = settings.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    } }, el("span", { "aria-hidden": "true" }, "☰"), t("menu"));
  return el("header", { class: "topbar" },
    el("span", { class: "brand" }, el("img", { src: "/static/img/icon.svg", alt: "" }), t("app")),
    el("nav", { "aria-label": t("menu.pages") }, links), el("span", { class: "spacer" }), toggle, settings);
}

/**
 * Start a page: load the signed-in user (unless public), pick the language, draw the top bar, then call
 * render(main) with the <main> element. Pages add their strings with addStrings() before calling this.
 */
export async function startPage(page, render, { signedIn = true } = {}) {
  if (signedIn) current.me = await api("auth/me");
  current.lang = pickLanguage(current.me);
  document.documentElement.lang = current.lang === "zh" ? "zh-CN" : "en";
  document.title = t(`title.${page}`) === `title.${page}` ? t("app") : `${t(`title.${page}`)} · ${t("app")}`;
  const app = document.getElementById("app");
  const main = el("main", { id: "main" });
  app.replaceChildren(topbar(page), main);
  await render(main);
}

/**
 * Follow a WebSocket that reconnects with backoff: onMessage(data) per JSON message; url(…) gives the URL for
 * each (re)connection, so callers can resume from a cursor. Returns { close() }.
 */
export function follow(url, onMessage, { onOpen, onDown } = {}) {
  let socket, closed = false, delay = 500;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${url()}`);
    socket.onopen = () => { delay = 500; onOpen?.(); };
    socket.onmessage = (event) => onMessage(JSON.parse(event.data));
    socket.onclose = () => {
      if (closed) return;
      onDown?.();
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  connect();
  return { close() { closed = true; socket?.close(); } };
}
