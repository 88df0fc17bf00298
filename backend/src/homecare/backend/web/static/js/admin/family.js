// Family & consent: which family accounts follow a resident and what the resident agreed to share with each;
// family accounts are created here too. Linking needs the resident's recorded consent.
import { api, el, formatTime, t, toast } from "../common.js";
import { residentPicker } from "./residents.js";
import { checkbox, field, form, input, section, select, table, value } from "./ui.js";
import { userForm } from "./staff.js";

const SHARES = [["share_status", true], ["share_incidents", true], ["share_vitals", false], ["share_activity", false],
  ["share_location", false]];

export async function family(panel) {
  const chosen = el("div", { id: "fam-resident" });
  const accounts = el("div", { id: "fam-accounts" });
  let resident = null;
  let familyUsers = [];

  async function loadAccounts() {
    familyUsers = await api("users?role=family");
    accounts.replaceChildren(table([
      [t("adm.staff.displayName"), (u) => u.display_name],
      [t("adm.staff.username"), (u) => el("code", {}, u.username)],
      [t("adm.res.phone"), (u) => u.phone || "—"],
      [t("adm.res.email"), (u) => u.email || "—"],
    ], familyUsers, { id: "fam-users-table" }));
    if (resident) await show(resident);
  }

  async function show(summary) {
    resident = summary;
    const links = await api(`residents/${summary.id}/family`);
    const names = new Map(familyUsers.map((u) => [u.id, u]));
    const user = select([["", t("adm.fam.pickAccount")],
      ...familyUsers.map((u) => [String(u.id), `${u.display_name} (${u.username})`])], "", { id: "fam-user" });
    const relation = input({ id: "fam-relation", placeholder: t("adm.fam.relationHint") });
    const shares = Object.fromEntries(SHARES.map(([name, on]) => [name, checkbox(on, { id: `fam-${name}` })]));
    const consent = checkbox(false, { id: "fam-consent" });
    const linkForm = form("fam-link-form", [
      el("h3", {}, t("adm.fam.linkTitle")),
      el("div", { class: "fields" }, field("user_id", t("adm.fam.account"), user), field("relation", t("adm.res.relation"), relation)),
      el("fieldset", {}, el("legend", {}, t("adm.fam.shares")),
        el("div", { class: "fields" }, SHARES.map(([name]) => field(name, t(`adm.fam.${name}`), shares[name])))),
      field("consent", t("adm.fam.consent"), consent, { hint: t("adm.fam.consentHint"), wide: true }),
    ], async () => {
      if (!consent.checked) throw new Error(t("adm.fam.consentNeeded"));
      if (!user.value) throw new Error(t("adm.fam.pickAccount"));
      await api(`residents/${summary.id}/family`, { method: "PUT", body: {
        user_id: Number(user.value), relation: value(relation),
        ...Object.fromEntries(SHARES.map(([name]) => [name, shares[name].checked])) } });
      toast(t("adm.fam.linked"));
      await show(summary);
    }, { submitLabel: t("adm.fam.link") });

    const flag = (on) => el("span", { class: `badge ${on ? "ok" : "warn"}` }, t(on ? "adm.yes" : "adm.no"));
    chosen.replaceChildren(section(t("adm.fam.following", { name: summary.display_name }),
      table([
        [t("adm.fam.account"), (l) => names.get(l.user_id)?.display_name || String(l.user_id)],
        [t("adm.res.relation"), (l) => l.relation || "—"],
        ...SHARES.map(([name]) => [t(`adm.fam.${name}`), (l) => flag(l[name])]),
        [t("adm.fam.consentAt"), (l) => `${formatTime(l.consent_recorded_at, { seconds: false })} · ${l.consent_recorded_by}`],
        [t("adm.actions"), (l) => el("button", { type: "button", class: "small danger", onclick: async () => {
          if (!confirm(t("adm.fam.confirmUnlink"))) return;
          await api(`residents/${summary.id}/family/${l.user_id}`, { method: "DELETE" });
          await show(summary);
        } }, t("adm.fam.unlink"))],
      ], links, { id: "fam-links-table", empty: t("adm.fam.noLinks") }),
      linkForm));
  }

  panel.append(el("h1", {}, t("adm.tab.family")),
    section(t("adm.fam.chooseResident"), residentPicker(show, { id: "fam-search" })),
    chosen,
    section(t("adm.fam.accounts"), accounts,
      userForm("fam-new", ["family"], [], loadAccounts, { title: t("adm.fam.newAccount") })));
  await loadAccounts();
}
