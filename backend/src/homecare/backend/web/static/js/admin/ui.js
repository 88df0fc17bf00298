// Building blocks of the administration forms: labelled fields, the API's 422 messages beside them, dialogs, tables.
import { ApiError, el, t } from "../common.js";

/** A labelled control with a place for its error; name is the API field ("lat", "contacts.0.phone"). */
export function field(name, label, control, { hint, wide = false } = {}) {
  const id = control.id || `f-${name.replace(/\./g, "-")}`;
  control.id = id;
  control.name = control.name || name;
  const error = el("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const describedBy = [hint ? `${id}-hint` : null, error.id].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", describedBy);
  const box = el("div", { class: `field${wide ? " wide" : ""}`, dataset: { field: name } });
  if (control.type === "checkbox") {
    box.classList.add("check");
    box.append(el("label", { for: id }, control, " ", label));
  } else {
    box.append(el("label", { for: id }, label), control);
  }
  if (hint) box.append(el("p", { class: "hint muted", id: `${id}-hint` }, hint));
  box.append(error);
  return box;
}

export function input(attrs = {}) {
  return el("input", { type: "text", ...attrs });
}

export function checkbox(checked = false, attrs = {}) {
  const box = el("input", { type: "checkbox", ...attrs });
  box.checked = Boolean(checked);
  return box;
}

export function select(options, value, attrs = {}) {
  const node = el("select", attrs, options.map(([key, label]) => el("option", { value: key }, label)));
  node.value = value ?? options[0]?.[0] ?? "";
  return node;
}

/** A form whose submit runs save(); errors of the API are shown next to their fields or at the top. */
export function form(id, children, save, { submitLabel } = {}) {
  const top = el("p", { class: "form-error", role: "alert", id: `${id}-error` });
  const submit = el("button", { class: "primary", type: "submit", id: `${id}-submit` }, submitLabel || t("adm.save"));
  const node = el("form", { class: "card admin-form", id, novalidate: true }, top, children,
    el("div", { class: "row actions" }, submit));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(node);
    submit.disabled = true;
    try {
      await save();
    } catch (err) {
      showErrors(node, err);
    } finally {
      submit.disabled = false;
    }
  });
  return node;
}

export function clearErrors(node) {
  for (const error of node.querySelectorAll(".field-error, .form-error")) error.textContent = "";
  for (const bad of node.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
}

/** One validation problem in the user's language: the common kinds by their type, the others as the API put it. */
export function explain(item) {
  const ctx = item.ctx || {};
  switch (item.type) {
    case "missing": return t("adm.v.missing");
    case "less_than_equal": return t("adm.v.le", { n: ctx.le });
    case "greater_than_equal": return t("adm.v.ge", { n: ctx.ge });
    case "string_too_short": return ctx.min_length === 1 ? t("adm.v.empty") : t("adm.v.short", { n: ctx.min_length });
    case "string_too_long": return t("adm.v.long", { n: ctx.max_length });
    case "too_long": return t("adm.v.many", { n: ctx.max_length });
    case "string_pattern_mismatch": return t("adm.v.pattern");
    case "reserved_device_id": return t("adm.v.reserved", { prefix: ctx.prefix });
    case "float_parsing": case "float_type": case "int_parsing": case "int_type": case "int_from_float":
      return t("adm.v.number");
    case "time_parsing": case "time_type": return t("adm.v.time");
    case "contact_unreachable": return t("adm.v.reach");
    case "enum": case "literal_error": return t("adm.v.choice", { choices: ctx.expected || "" });
    default: return String(item.msg).replace(/^Value error, /, "");
  }
}

/** Put a 422's messages beside the fields they name (FastAPI's [{loc, msg}] detail); anything else on top. */
export function showErrors(node, err) {
  const top = node.querySelector(".form-error");
  const unplaced = [];
  if (err instanceof ApiError && err.status === 422 && Array.isArray(err.detail)) {
    for (const item of err.detail) {
      const path = item.loc.filter((part) => part !== "body").join(".");
      const box = node.querySelector(`[data-field="${CSS.escape(path)}"]`);
      if (box) {
        const error = box.querySelector(":scope > .field-error");
        error.textContent = error.textContent ? `${error.textContent}; ${explain(item)}` : explain(item);
        box.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
      } else {
        unplaced.push(path ? `${path}: ${explain(item)}` : explain(item));
      }
    }
    top.textContent = unplaced.length ? unplaced.join("; ") : t("adm.fixFields");
  } else {
    top.textContent = err instanceof ApiError ? t("error.generic", { detail: err.message }) : err.message || String(err);
  }
  node.querySelector("[aria-invalid]")?.focus();
  top.scrollIntoView?.({ block: "nearest" });
}

/** A modal dialog; resolves when it is closed. */
export function dialog(id, title, ...content) {
  const close = el("button", { type: "button", class: "primary", id: `${id}-close` }, t("adm.close"));
  const box = el("dialog", { class: "admin-dialog", id, "aria-labelledby": `${id}-title` },
    el("h2", { id: `${id}-title` }, title), content, el("div", { class: "row actions" }, close));
  document.body.append(box);
  return new Promise((resolve) => {
    close.addEventListener("click", () => box.close());
    box.addEventListener("close", () => { box.remove(); resolve(); });
    box.showModal();
  });
}

/** A table: columns [[heading, cell(row) → node or text]], rows. */
export function table(columns, rows, { id, empty } = {}) {
  if (!rows.length) return el("p", { class: "muted empty", id }, empty || t("adm.none"));
  return el("div", { class: "table-wrap" }, el("table", { id },
    el("thead", {}, el("tr", {}, columns.map(([heading]) => el("th", { scope: "col" }, heading)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row))))))));
}

/** A section with a heading. */
export function section(title, ...children) {
  return el("section", { class: "card admin-section" }, el("h2", {}, title), children);
}

/** "a; b, c" → ["a", "b", "c"]. */
export function list(text) {
  return text.split(/[;；,，、\n]/).map((item) => item.trim()).filter(Boolean);
}

/** The value of a text input, or null when empty. */
export function value(control) {
  const text = control.value.trim();
  return text === "" ? null : text;
}

/** A number from an input, or the raw text (the API then says what is wrong with it). */
export function number(control) {
  const text = control.value.trim();
  if (text === "") return null;
  const parsed = Number(text);
  return Number.isFinite(parsed) ? parsed : text;
}
