// What an operator can do to one team, shared by the Teams table and the Team detail view:
// Edit and Disable/Enable (a read-only token gets none).

import { teamPath } from "./api.js";
import { h } from "./dom.js";
import { openTeamForm } from "./team-form.js";

/**
 * The buttons for `team`. `changed(id, label)` runs after a change, with the label of the
 * button that should take the focus back.
 */
export function teamActions(ctx, team, changed) {
  if (!ctx.canWrite) return [];
  const path = teamPath(team.id);
  const edit = h("button", {
    type: "button",
    on: {
      click: () =>
        openTeamForm({
          team,
          save: async (body) => {
            await ctx.api.patch(path, body);
            ctx.notify(`Saved team ${body.name ?? team.name}.`);
            changed(team.id, "Edit");
          },
        }),
    },
  }, "Edit");
  const toggle = h("button", {
    type: "button",
    on: {
      click: async () => {
        try {
          await ctx.api.patch(path, { disabled: !team.disabled });
        } catch (failure) {
          ctx.fail(failure);
          return;
        }
        ctx.notify(`${team.disabled ? "Enabled" : "Disabled"} team ${team.name}.`);
        changed(team.id, team.disabled ? "Disable" : "Enable");
      },
    },
  }, team.disabled ? "Enable" : "Disable");
  return [edit, toggle];
}

export function teamStatus(team) {
  return team.disabled ? "disabled" : "active";
}
