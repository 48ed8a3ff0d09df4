// The create and edit form of a team: name, models, limits and budgets.

import { h } from "./dom.js";
import { ALL_LIMITS } from "./format.js";
import { changedFields, field, openFormDialog } from "./forms.js";

function readLimit(limit, input) {
  const raw = input.value.trim();
  if (raw === "") return null;
  return limit.money ? raw : Number(raw);
}

function shown(value) {
  return value === null || value === undefined ? "" : String(value);
}

/**
 * Open the team form. `team` null: a new team (empty limits: unlimited); otherwise that
 * team's values, and only the fields the operator changed are sent. `save(body)` performs
 * the call; its API errors are shown in the form.
 */
export function openTeamForm({ team = null, save }) {
  const creating = team === null;
  const inputs = {
    name: h("input", { type: "text", required: true, maxlength: "200", autocomplete: "off", value: team?.name ?? "" }),
    models: h("input", { type: "text", autocomplete: "off", value: team?.models ? team.models.join(", ") : "" }),
  };
  for (const limit of ALL_LIMITS) {
    inputs[limit.name] = h("input", {
      type: "number",
      min: "0",
      step: limit.money ? "any" : "1",
      inputmode: limit.money ? "decimal" : "numeric",
      value: shown(team?.[limit.name]),
    });
  }

  function body() {
    const models = inputs.models.value.trim();
    const wanted = {
      name: inputs.name.value.trim(),
      models: models ? models.split(",").map((m) => m.trim()).filter(Boolean) : null,
    };
    for (const limit of ALL_LIMITS) wanted[limit.name] = readLimit(limit, inputs[limit.name]);
    if (creating) return Object.fromEntries(Object.entries(wanted).filter(([, value]) => value !== null));
    const before = { name: team.name, models: team.models };
    for (const limit of ALL_LIMITS) before[limit.name] = team[limit.name];
    return changedFields(wanted, before);
  }

  openFormDialog({
    title: creating ? "Create team" : `Edit team ${team.name}`,
    submitLabel: creating ? "Create" : "Save",
    inputs,
    body,
    save,
    fields: [
      field({ label: "Name", input: inputs.name }),
      field({
        label: "Models",
        input: inputs.models,
        hint: "Comma-separated model ids the team's keys may use. Empty: whatever each key allows.",
      }),
      h(
        "fieldset",
        {},
        h("legend", {}, "Limits and budgets"),
        h("span", { class: "hint" }, "Shared by every key of the team. Empty: unlimited."),
        h("div", { class: "grid-2" }, ALL_LIMITS.map((limit) => field({ label: limit.label, input: inputs[limit.name] }))),
      ),
    ],
  });
}
