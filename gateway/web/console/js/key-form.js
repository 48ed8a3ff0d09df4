// The create and edit form of a key: name, expiry, models, limits, cache.

import { h, uid } from "./dom.js";
import { LIMITS, limitsOf } from "./format.js";
import { changedFields, field, openFormDialog } from "./forms.js";

function expiryValue(seconds) {
  return seconds === null || seconds === undefined
    ? ""
    : new Date(seconds * 1000).toISOString().slice(0, 16);
}

function readLimit(input) {
  const raw = input.value.trim();
  if (raw === "") return null;
  return Number(raw);
}

/**
 * Open the key form. `key` null: a new key (empty limits take the gateway's defaults);
 * otherwise that key's values, and only the fields the operator changed are sent.
 * `save(body)` performs the call; its API errors are shown in the form. It may return a
 * function, run once the form has closed (to open what comes next).
 */
export function openKeyForm({ key = null, save }) {
  const creating = key === null;
  const inputs = {
    name: h("input", { type: "text", required: true, maxlength: "200", autocomplete: "off", value: key?.name ?? "" }),
    expires_at: h("input", { type: "datetime-local", value: expiryValue(key?.expires_at) }),
    models: h("input", { type: "text", autocomplete: "off", value: key?.models ? key.models.join(", ") : "" }),
    cache: h("input", { type: "checkbox", checked: key ? Boolean(key.cache) : true }),
  };
  const limits = creating ? LIMITS : limitsOf(key);
  for (const limit of limits) {
    const current = key?.[limit.name];
    inputs[limit.name] = h("input", {
      type: "number",
      min: "0",
      step: "1",
      inputmode: "numeric",
      value: current === null || current === undefined ? "" : String(current),
    });
  }
  const cacheId = uid("field");
  inputs.cache.id = cacheId;

  function body() {
    const wanted = {
      name: inputs.name.value.trim(),
      expires_at: inputs.expires_at.value ? `${inputs.expires_at.value}:00Z` : null,
      models: inputs.models.value.trim()
        ? inputs.models.value.split(",").map((m) => m.trim()).filter(Boolean)
        : null,
      cache: inputs.cache.checked,
    };
    for (const limit of limits) wanted[limit.name] = readLimit(inputs[limit.name]);
    if (creating) {
      return Object.fromEntries(
        Object.entries(wanted).filter(([name, value]) => name === "cache" || value !== null),
      );
    }
    const before = {
      name: key.name,
      expires_at: expiryValue(key.expires_at) ? `${expiryValue(key.expires_at)}:00Z` : null,
      models: key.models,
      cache: key.cache,
    };
    for (const limit of limits) before[limit.name] = key[limit.name];
    return changedFields(wanted, before);
  }

  openFormDialog({
    title: creating ? "Create key" : `Edit key ${key.name}`,
    submitLabel: creating ? "Create" : "Save",
    inputs,
    body,
    save,
    fields: [
      field({ label: "Name", input: inputs.name }),
      h(
        "div",
        { class: "grid-2" },
        field({ label: "Expires at (UTC)", input: inputs.expires_at, hint: "Empty: never." }),
        field({ label: "Models", input: inputs.models, hint: "Comma-separated model ids. Empty: every model." }),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Limits"),
        h("span", { class: "hint" }, creating ? "Empty: the gateway's default for new keys." : "Empty: unlimited."),
        h("div", { class: "grid-2" }, limits.map((limit) => field({ label: limit.label, input: inputs[limit.name] }))),
      ),
      h("label", { class: "check", for: cacheId }, inputs.cache, "Cache answers"),
    ],
  });
}
