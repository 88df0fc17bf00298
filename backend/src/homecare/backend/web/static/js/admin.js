// The administration page: the plan figures for managers; enrolment of residents, devices, stations, staff and
// family links, and CSV imports, for administrators. The tab is kept in the URL (#residents).
import { el, me, startPage, t } from "./common.js";
import "./admin/strings.js";
import { dashboard } from "./admin/dashboard.js";
import { devices } from "./admin/devices.js";
import { family } from "./admin/family.js";
import { imports } from "./admin/importer.js";
import { residents } from "./admin/residents.js";
import { staff } from "./admin/staff.js";
import { stations } from "./admin/stations.js";

const TABS = [
  ["dashboard", dashboard], ["residents", residents], ["devices", devices], ["stations", stations],
  ["staff", staff], ["family", family], ["import", imports],
];

startPage("admin", async (main) => {
  // Supervisors read the figures; enrolment is for administrators (the API refuses them anyway).
  const tabs = me().role === "admin" ? TABS : TABS.filter(([name]) => name === "dashboard");
  const panel = el("section", { id: "admin-panel", role: "tabpanel", tabindex: "-1" });
  const buttons = tabs.map(([name]) => el("button", { type: "button", role: "tab", id: `tab-${name}`,
    "aria-controls": "admin-panel", onclick: () => { location.hash = name; } }, t(`adm.tab.${name}`)));
  const bar = el("nav", { class: "admin-tabs", role: "tablist", "aria-label": t("title.admin") }, buttons);
  bar.addEventListener("keydown", (event) => {
    const at = buttons.indexOf(document.activeElement);
    if (at < 0 || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
    const next = buttons[(at + (event.key === "ArrowRight" ? 1 : buttons.length - 1)) % buttons.length];
    next.focus();
    next.click();
  });
  main.classList.add("admin");
  main.append(bar, panel);

  let drawing = 0;
  async function show() {
    const name = location.hash.slice(1);
    const [current, render] = tabs.find(([tab]) => tab === name) || tabs[0];
    for (const button of buttons) {
      const selected = button.id === `tab-${current}`;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", `tab-${current}`);
    const mine = ++drawing;
    const body = el("div", { class: "tab-body", id: `panel-${current}` });
    panel.replaceChildren(body);
    try {
      await render(body);
    } catch (err) {
      if (mine === drawing) body.append(el("p", { class: "form-error", role: "alert" }, t("error.generic", { detail: err.message })));
    }
  }
  addEventListener("hashchange", show);
  await show();
});
