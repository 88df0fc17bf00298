// Staff: accounts of administrators, supervisors, operators, station responders, visitors and carers (the accounts API), with
// disabling, the on-duty switch and password resets.
import { api, el, me, t, toast } from "../common.js";
import { dialog, field, form, input, select, table, value } from "./ui.js";

export const STAFF_ROLES = ["admin", "supervisor", "operator", "responder", "visitor", "carer"];

/** A form adding an account of one of these roles; onSaved(user). */
export function userForm(id, roles, stations, onSaved, { title } = {}) {
  const c = {
    username: input({ autocomplete: "off", autocapitalize: "none" }),
    display_name: input(),
    role: select(roles.map((r) => [r, t(`role.${r}`)]), roles[0]),
    password: input({ type: "password", autocomplete: "new-password" }),
    station_id: select([["", "—"], ...stations.map((s) => [String(s.id), `${s.code} · ${s.name}`])], ""),
    phone: input({ type: "tel" }),
    email: input({ type: "email" }),
    language: select([["zh", "中文"], ["en", "English"]], "zh"),
  };
  for (const [name, control] of Object.entries(c)) control.id = `${id}-${name}`;
  const f = (name, label, opts) => field(name, label, c[name], opts);
  const node = form(id, [
    el("h2", {}, title || t("adm.staff.newTitle")),
    el("div", { class: "fields" },
      f("username", t("adm.staff.username"), { hint: t("adm.staff.usernameHint") }), f("display_name", t("adm.staff.displayName")),
      roles.length > 1 ? f("role", t("adm.staff.role")) : null,
      f("password", t("adm.staff.password"), { hint: t("adm.staff.passwordHint") }),
      roles.includes("responder") ? f("station_id", t("adm.res.station"), { hint: t("adm.staff.stationHint") }) : null,
      f("phone", t("adm.res.phone")), f("email", t("adm.res.email")), f("language", t("language"))),
  ], async () => {
    const body = {
      username: c.username.value.trim().toLowerCase(), display_name: c.display_name.value.trim(), role: c.role.value,
      password: c.password.value, station_id: c.station_id.value ? Number(c.station_id.value) : null,
      phone: value(c.phone), email: value(c.email), language: c.language.value,
    };
    const user = await api("users", { method: "POST", body });
    toast(t("adm.staff.created", { name: user.username }));
    node.reset();
    await onSaved(user);
  }, { submitLabel: t("adm.staff.create") });
  return node;
}

async function resetPassword(user) {
  const password = input({ type: "password", id: "reset-password", autocomplete: "new-password" });
  const box = form("reset-form", [field("password", t("adm.staff.newPassword"), password,
    { hint: t("adm.staff.passwordHint") })], async () => {
    await api(`users/${user.id}`, { method: "PATCH", body: { password: password.value } });
    toast(t("adm.staff.passwordSet", { name: user.username }));
    box.closest("dialog").close();
  });
  await dialog("reset-dialog", t("adm.staff.resetTitle", { name: user.display_name }), box);
}

export async function staff(panel) {
  const stations = await api("admin/stations");
  const stationName = new Map(stations.map((s) => [s.id, s.name]));
  const role = select([["", t("adm.staff.allRoles")], ...STAFF_ROLES.map((r) => [r, t(`role.${r}`)])], "",
    { id: "staff-role", "aria-label": t("adm.staff.role") });
  const results = el("div", { id: "staff-results" });

  const patch = async (user, body) => {
    try {
      await api(`users/${user.id}`, { method: "PATCH", body });
    } catch (err) {
      toast(t("error.generic", { detail: err.message }), "error");
    }
    await refresh();
  };

  async function refresh() {
    const users = (await api(`users${role.value ? `?role=${role.value}` : ""}`)).filter((u) => u.role !== "family");
    results.replaceChildren(table([
      [t("adm.staff.displayName"), (u) => u.display_name],
      [t("adm.staff.username"), (u) => el("code", {}, u.username)],
      [t("adm.staff.role"), (u) => t(`role.${u.role}`)],
      [t("adm.res.station"), (u) => stationName.get(u.station_id) || "—"],
      [t("adm.res.phone"), (u) => u.phone || "—"],
      [t("adm.staff.state"), (u) => el("span", { class: `badge ${u.disabled ? "bad" : "ok"}` },
        t(u.disabled ? "adm.staff.disabled" : "adm.staff.active"))],
      [t("adm.st.onDuty"), (u) => (u.role === "responder"
        ? el("button", { type: "button", class: "small", "aria-pressed": String(u.on_duty),
          onclick: () => patch(u, { on_duty: !u.on_duty }) },
          t(u.on_duty ? "adm.staff.onDuty" : "adm.staff.offDuty"))
        : "")],
      [t("adm.actions"), (u) => el("span", { class: "row" },
        el("button", { type: "button", class: "small", onclick: () => resetPassword(u) }, t("adm.staff.reset")),
        u.id === me().id ? null : el("button", { type: "button", class: `small ${u.disabled ? "" : "danger"}`,
          onclick: () => patch(u, { disabled: !u.disabled }) }, t(u.disabled ? "adm.staff.enable" : "adm.staff.disable")))],
    ], users, { id: "staff-table" }));
  }

  role.addEventListener("change", refresh);
  panel.append(el("h1", {}, t("adm.tab.staff")), el("div", { class: "card row toolbar" }, role), results,
    userForm("staff-form", ["operator", "responder", "visitor", "carer", "supervisor", "admin"], stations, refresh));
  await refresh();
}
