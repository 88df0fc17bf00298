// CSV import of residents and devices: the documented columns, a template, the upload, and either what was added
// and updated or every refused line with its reason (then nothing was imported). Device imports hand back their
// secrets once, as a CSV to download.
import { el, t } from "../common.js";
import { section, table } from "./ui.js";

const COLUMNS = {
  residents: [
    ["external_ref", true, "SH-XH-00017"], ["display_name", true, "张桂英"], ["address", true, "徐汇区天钥桥路 100 弄 5 号"],
    ["lat", true, "31.1912"], ["lon", true, "121.4385"], ["station_code", false, "XH-01"], ["birth_year", false, "1938"],
    ["sex", false, "female / 女"], ["phone", false, "021-5555 0101"], ["vulnerable", false, "是 / yes"],
    ["conditions", false, "高血压; 糖尿病"], ["medications", false, "二甲双胍 500mg"], ["allergies", false, "青霉素"],
    ["mobility", false, "助行器"], ["language", false, "上海话"], ["access_notes", false, "钥匙在 301 室"],
    ["consent_video", false, "否 / no"], ["timezone", false, "Asia/Shanghai"],
    ["contacts", false, "李明|儿子|13800000001; 李红|女儿||li.hong@example.com"],
  ],
  devices: [["uid", true, "wr-000123"], ["kind", true, "wristband"], ["resident_ref", false, "SH-XH-00017"]],
};

async function upload(kind, file) {
  return fetch(`/api/admin/import/${kind}`, { method: "POST", body: file, credentials: "same-origin",
    headers: { "Content-Type": "text/csv", Accept: "application/json, text/csv" } });
}

function importer(kind) {
  const fileInput = el("input", { type: "file", id: `imp-${kind}-file`, accept: ".csv,text/csv" });
  const submit = el("button", { type: "submit", class: "primary", id: `imp-${kind}-submit` }, t("adm.imp.import"));
  const result = el("div", { id: `imp-${kind}-result`, "aria-live": "polite" });
  const uploadForm = el("form", { class: "row upload", id: `imp-${kind}-form` },
    el("label", { for: fileInput.id }, t("adm.imp.file")), fileInput, submit);
  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) { result.replaceChildren(el("p", { class: "form-error", role: "alert" }, t("adm.imp.pick"))); return; }
    submit.disabled = true;
    result.replaceChildren(el("p", { class: "muted" }, t("adm.imp.working")));
    try {
      const response = await upload(kind, file);
      if (response.status === 422) {
        const { detail } = await response.json();
        result.replaceChildren(
          el("p", { class: "form-error", role: "alert", id: `imp-${kind}-refused` }, t("adm.imp.refused", { n: detail.errors.length })),
          table([[t("adm.imp.line"), (e) => String(e.line)], [t("adm.imp.reason"), (e) => e.reason]], detail.errors,
            { id: `imp-${kind}-errors` }));
      } else if (!response.ok) {
        const text = await response.text();
        result.replaceChildren(el("p", { class: "form-error", role: "alert" }, t("error.generic", { detail: text })));
      } else if (kind === "devices") {
        const blob = await response.blob();
        const added = response.headers.get("X-Added"), updated = response.headers.get("X-Updated");
        result.replaceChildren(
          el("p", { class: "ok-message", id: `imp-${kind}-done` }, t("adm.imp.done", { added, updated })),
          el("p", { class: "warning", role: "alert" }, t("adm.imp.secretsOnce")),
          el("a", { class: "button primary", id: "imp-devices-download", href: URL.createObjectURL(blob),
            download: "device-credentials.csv" }, `↓ ${t("adm.imp.downloadSecrets")}`));
      } else {
        const { added, updated } = await response.json();
        result.replaceChildren(el("p", { class: "ok-message", id: `imp-${kind}-done` }, t("adm.imp.done", { added, updated })));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return section(t(`adm.imp.${kind}`),
    el("p", {}, t(`adm.imp.${kind}Intro`)),
    el("details", {}, el("summary", {}, t("adm.imp.columns")),
      table([
        [t("adm.imp.column"), ([name]) => el("code", {}, name)],
        [t("adm.imp.required"), ([, required]) => (required ? t("adm.yes") : "")],
        [t("adm.imp.meaning"), ([name]) => t(`adm.imp.col.${name}`)],
        [t("adm.imp.example"), ([, , example]) => el("code", {}, example)],
      ], COLUMNS[kind], { id: `imp-${kind}-columns` }),
      el("p", { class: "muted" }, t("adm.imp.format"))),
    el("p", {}, el("a", { href: `/api/admin/import/${kind}.csv`, download: "", id: `imp-${kind}-template` },
      `↓ ${t("adm.imp.template")}`)),
    uploadForm, result);
}

export async function imports(panel) {
  panel.append(el("h1", {}, t("adm.tab.import")), el("p", { class: "muted" }, t("adm.imp.intro")),
    importer("residents"), importer("devices"));
}
