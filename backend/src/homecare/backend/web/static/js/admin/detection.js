// A resident's alarm thresholds: the detector settings clinicians change, each empty unless it differs from the
// default (shown beside it). Settings not shown here (set through the API) are kept as they are when saving.
import { api, el, formatTime, t, toast } from "../common.js";
import { checkbox, clearErrors, field, form, input, number, showErrors } from "./ui.js";

/** [path, label key, unit key] of the numbers shown, in the order they appear. */
const NUMBERS = [
  ["falls.recovery_window_s", "adm.det.recovery", "adm.det.unitS"],
  ["vitals.spo2_low", "adm.det.spo2Low", "adm.det.unitPct"],
  ["vitals.spo2_moderate", "adm.det.spo2Moderate", "adm.det.unitPct"],
  ["vitals.pulse_low", "adm.det.pulseLow", "adm.det.unitBpm"],
  ["vitals.pulse_high", "adm.det.pulseHigh", "adm.det.unitBpm"],
  ["vitals.respiration_low", "adm.det.respLow", "adm.det.unitRpm"],
  ["vitals.respiration_high", "adm.det.respHigh", "adm.det.unitRpm"],
  ["health_checks.systolic_crisis", "adm.det.systolic", "adm.det.unitMmHg"],
  ["health_checks.diastolic_crisis", "adm.det.diastolic", "adm.det.unitMmHg"],
  ["health_checks.glucose_low", "adm.det.glucoseLow", "adm.det.unitMmol"],
  ["health_checks.glucose_severe", "adm.det.glucoseSevere", "adm.det.unitMmol"],
  ["activity.quiet_max_min", "adm.det.quiet", "adm.det.unitMin"],
  ["activity.no_activity_hours", "adm.det.noActivity", "adm.det.unitH"],
];
const SWITCHES = ["vitals", "health_checks", "activity", "baseline", "device_health"];
/** NEWS2 SpO2 scale 2, for hypercapnic respiratory failure (e.g. COPD with a prescribed target of 88–92 %). */
const SCALE_2 = { "vitals.spo2_low": 83, "vitals.spo2_moderate": 85 };

const at = (object, path) => path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), object);

function put(object, path, value) {
  const [section, key] = path.split(".");
  if (value === undefined) {
    if (object[section]) delete object[section][key];
    if (object[section] && !Object.keys(object[section]).length) delete object[section];
  } else {
    object[section] = { ...object[section], [key]: value };
  }
}

/** Overrides of settings this form does not show, as "section.key" paths. */
function others(overrides) {
  const shown = new Set([...NUMBERS.map(([path]) => path), ...SWITCHES.map((s) => `${s}.enabled`)]);
  return Object.entries(overrides).flatMap(([section, value]) =>
    (value && typeof value === "object" && !Array.isArray(value)
      ? Object.keys(value).map((key) => `${section}.${key}`) : [section])).filter((path) => !shown.has(path));
}

/** The "alarm thresholds" form of one resident, loaded from the API. */
export async function detectionForm(residentId) {
  const box = el("div", { id: "detection" });
  const url = `admin/residents/${residentId}/detection`;
  const draw = (view) => box.replaceChildren(render(view));

  function render(view) {
    const numbers = Object.fromEntries(NUMBERS.map(([path]) => {
      const fallback = at(view.defaults, path);
      return [path, input({ type: "number", inputmode: "decimal", step: "any", value: at(view.overrides, path) ?? "",
        placeholder: String(fallback) })];
    }));
    const switches = Object.fromEntries(SWITCHES.map((s) => [s, checkbox(at(view.effective, `${s}.enabled`))]));
    const preset = el("button", { type: "button", id: "det-scale2", onclick: () => {
      for (const [path, fill] of Object.entries(SCALE_2)) numbers[path].value = String(fill);
    } }, t("adm.det.scale2"));
    const reset = el("button", { type: "button", id: "det-reset", onclick: async () => {
      clearErrors(node);
      try {
        draw(await api(url, { method: "PUT", body: {} }));
        toast(t("adm.det.resetDone"));
      } catch (err) {
        showErrors(node, err);
      }
    } }, t("adm.det.reset"));
    const kept = others(view.overrides);
    const node = form("detection-form", [
      el("fieldset", {}, el("legend", {}, t("adm.det.legend")),
        el("p", { class: "muted" }, t("adm.det.hint")),
        el("div", { class: "row" }, preset, reset),
        el("div", { class: "fields" }, NUMBERS.map(([path, label, unit]) => field(path, `${t(label)} (${t(unit)})`,
          numbers[path], { hint: t("adm.det.default", { value: at(view.defaults, path) }) }))),
        el("div", { class: "fields" }, SWITCHES.map((s) => field(`${s}.enabled`, t(`adm.det.on.${s}`), switches[s])))),
      kept.length ? el("p", { class: "muted", id: "det-kept" }, t("adm.det.kept", { list: kept.join(", ") })) : null,
      el("p", { class: "muted", id: "det-updated" }, view.updated_at
        ? t("adm.det.updated", { at: formatTime(view.updated_at), by: view.updated_by || "—" }) : t("adm.det.never")),
    ], async () => {
      const body = structuredClone(view.overrides);
      for (const [path] of NUMBERS) {
        const entered = number(numbers[path]);
        put(body, path, entered === null ? undefined : entered);
      }
      for (const s of SWITCHES) {
        put(body, `${s}.enabled`, switches[s].checked === at(view.defaults, `${s}.enabled`) ? undefined : switches[s].checked);
      }
      draw(await api(url, { method: "PUT", body }));
      toast(t("adm.saved"));
    }, { submitLabel: t("adm.det.save") });
    return node;
  }

  draw(await api(url));
  return box;
}
