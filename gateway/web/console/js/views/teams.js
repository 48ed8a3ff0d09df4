// Teams: every team with its limits and budgets, today's use and spend, and its keys.

import { h, fill } from "../dom.js";
import { ALL_LIMITS, count, limitsText, money, statusBadge, todayText } from "../format.js";
import { teamActions, teamStatus } from "../team-actions.js";
import { openTeamForm } from "../team-form.js";

function spendText(team) {
  const spent = team.usage_today?.spend_usd;
  if (spent === undefined || spent === null) return "—";
  const budget = team.usd_per_day;
  return budget === null || budget === undefined
    ? money(Number(spent))
    : `${money(Number(spent))} / ${money(Number(budget))}`;
}

function teamRow(ctx, team, changed) {
  const actions = teamActions(ctx, team, changed);
  return h(
    "tr",
    { "data-team-id": team.id },
    h("th", { scope: "row", class: "name-cell" }, h("a", { href: `#/teams/${encodeURIComponent(team.id)}` }, team.name)),
    h("td", {}, statusBadge(teamStatus(team))),
    h("td", {}, limitsText(team, ALL_LIMITS)),
    h("td", {}, todayText(team)),
    h("td", { class: "number" }, spendText(team)),
    h("td", { class: "number" }, count(team.keys)),
    ctx.canWrite ? h("td", {}, h("div", { class: "actions" }, actions)) : null,
  );
}

function teamsTable(ctx, teams, changed) {
  const columns = ["Name", "Status", "Limits and budgets", "Today's use", "Today's spend", "Keys"];
  if (ctx.canWrite) columns.push("Actions");
  return h(
    "table",
    { tabindex: "-1" },
    h("caption", { class: "visually-hidden" }, "Teams"),
    h(
      "thead",
      {},
      h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c === "Keys" || c === "Today's spend" ? "number" : null }, c))),
    ),
    h(
      "tbody",
      {},
      teams.length
        ? teams.map((team) => teamRow(ctx, team, changed))
        : h(
            "tr",
            {},
            h(
              "td",
              { colspan: String(columns.length), class: "subtle" },
              "No teams exist yet. A team shares limits and budgets among its keys.",
            ),
          ),
    ),
  );
}

function focusAfter(results, focus) {
  if (!focus) return;
  const row = [...results.querySelectorAll("tbody tr")].find((r) => r.dataset.teamId === focus.id);
  const target = row && [...row.querySelectorAll("button")].find((b) => b.textContent === focus.label);
  (target ?? row?.querySelector("a") ?? results.querySelector("table"))?.focus();
}

export async function teamsView(ctx) {
  const results = h("div", { class: "results" });

  async function load(focus = null) {
    let listing;
    try {
      listing = await ctx.api.get("/admin/teams", { include: "usage" });
    } catch (failure) {
      ctx.fail(failure);
      return;
    }
    ctx.teamsKnown(listing.data.length > 0);
    fill(results, teamsTable(ctx, listing.data, (id, label) => load({ id, label })));
    focusAfter(results, focus);
  }

  const create = ctx.canWrite
    ? h("button", {
        type: "button",
        class: "primary",
        on: {
          click: () =>
            openTeamForm({
              save: async (body) => {
                const created = await ctx.api.post("/admin/teams", body);
                ctx.notify(`Created team ${created.name}.`);
                await load({ id: created.id, label: null });
              },
            }),
        },
      }, "Create team")
    : null;

  await load();
  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("h1", { id: "view-title", tabindex: "-1" }, "Teams"),
    h(
      "div",
      { class: "toolbar" },
      h("p", { class: "subtle" }, "Each team's limits and budgets bind every key in it, on top of the key's own."),
      h("div", { class: "actions push" }, h("button", { type: "button", on: { click: () => load() } }, "Refresh"), create),
    ),
    results,
  );
}
