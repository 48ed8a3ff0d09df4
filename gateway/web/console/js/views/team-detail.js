// Team detail: the team's settings, what is left of its limits and budgets, its last 30
// days (every key of the team counted together) and its keys.

import { teamPath } from "../api.js";
import { h } from "../dom.js";
import { keyStatus, statusBadge, todayText, when } from "../format.js";
import { teamActions, teamStatus } from "../team-actions.js";
import { DAYS, detailPage, limitsTable, settingsColumns } from "../usage.js";
import { newRequestsState } from "./requests.js";

const KEYS_SHOWN = 50;

function keysTable(page) {
  const columns = ["Name", "Status", "Today's use"];
  const caption = page.has_more ? `The team's first ${page.data.length} keys` : "The team's keys";
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      page.data.length
        ? page.data.map((key) =>
            h(
              "tr",
              {},
              h("th", { scope: "row", class: "name-cell" }, h("a", { href: `#/keys/${encodeURIComponent(key.id)}` }, key.name)),
              h("td", {}, statusBadge(keyStatus(key))),
              h("td", {}, todayText(key)),
            ))
        : h("tr", {}, h("td", { colspan: String(columns.length), class: "subtle" }, "No key is in this team.")),
    ),
  );
}

export async function teamDetailView(ctx, id) {
  const [team, usage, keys] = await Promise.all([
    ctx.api.get(teamPath(id)),
    ctx.api.get(`${teamPath(id)}/usage`, { days: DAYS }),
    ctx.api.get("/admin/keys", { team_id: id, limit: KEYS_SHOWN, include: "usage" }),
  ]);
  const status = teamStatus(team);
  const actions = teamActions(ctx, team, () => ctx.refresh());
  const requests = h(
    "a",
    {
      href: "#/requests",
      on: {
        click: () => {
          const requests = newRequestsState();
          requests.filters.team_id = team.id;
          ctx.state.requests = requests;
        },
      },
    },
    "This team's requests",
  );
  return detailPage({
    back: h("a", { href: "#/teams" }, "All teams"),
    title: team.name,
    subtitle: [statusBadge(status), ` ${team.id}`],
    actions,
    links: requests,
    usage,
    rest: [
      settingsColumns(
        "Team",
        [
          ["Status", statusBadge(status)],
          ["ID", team.id],
          ["Created", when(team.created_at)],
          ["Models", team.models === null ? "Whatever each key allows" : team.models.join(", ") || "None"],
        ],
        [h("h2", {}, "Limits and budgets"), limitsTable(usage.limits, "Limits and budgets")],
      ),
      h("h2", {}, keys.has_more ? `Keys (the first ${keys.data.length})` : "Keys"),
      keysTable(keys),
    ],
  });
}
