// The sign-in page: user name and password, then on to the page the user wanted or their role's home.
import { addStrings, api, el, startPage, t } from "./common.js";

addStrings({
  zh: { "title.login": "登录", "login.heading": "登录", "login.username": "用户名", "login.password": "密码",
    "login.submit": "登录", "login.refused": "用户名或密码错误", "login.wait": "尝试次数过多，请 {s} 秒后再试" },
  en: { "title.login": "Sign in", "login.heading": "Sign in", "login.username": "User name",
    "login.password": "Password", "login.submit": "Sign in", "login.refused": "Wrong user name or password",
    "login.wait": "Too many attempts; try again in {s} s" },
});

const HOME = { admin: "/admin", supervisor: "/console", operator: "/console", responder: "/station", family: "/family" };

function safeNext(user) {
  const next = new URLSearchParams(location.search).get("next");
  // Only a path on this site. Read it as the browser will: the URL parser turns "/\host" into "//host" and drops
  // tabs and newlines ("/\t/host"), so a prefix check alone lets another site through.
  if (next && next.startsWith("/")) {
    const url = new URL(next, location.origin);
    if (url.origin === location.origin) return url.pathname + url.search + url.hash;
  }
  return HOME[user.role] || "/";
}

startPage("login", (main) => {
  const error = el("p", { class: "error", role: "alert", id: "login-error" });
  const username = el("input", { id: "username", name: "username", autocomplete: "username", required: true,
    autocapitalize: "none" });
  const password = el("input", { id: "password", name: "password", type: "password",
    autocomplete: "current-password", required: true });
  const submit = el("button", { class: "primary", type: "submit", id: "login-submit" }, t("login.submit"));
  const form = el("form", { class: "card login", onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    try {
      const user = await api("auth/login", { method: "POST",
        body: { username: username.value.trim(), password: password.value } });
      location.assign(safeNext(user));
    } catch (err) {
      const wait = err.status === 429 ? String(err.detail).match(/(\d+) s/)?.[1] : null;
      error.textContent = wait ? t("login.wait", { s: wait }) : err.status === 401 ? t("login.refused") : err.message;
      submit.disabled = false;
    }
  } },
  el("h1", {}, t("login.heading")),
  el("label", { for: "username" }, t("login.username")), username,
  el("label", { for: "password" }, t("login.password")), password,
  error, submit);
  main.append(form);
  username.focus();
}, { signedIn: false });
