// Key detail: the key's settings, what is left of each limit, and its last 30 days.

import { keyPath } from "../api.js";
import { barChart } from "../chart.js";
import { h } from "../dom.js";
import { LIMITS, count, duration, keyStatus, money, plural, statusBadge, when } from "../format.js";
import { keyActions } from "../key-actions.js";

const DAYS = 30;

const SERIES = [
  { title: "Images per day", value: (row) => row.images },
  { title: "Requests per day", value: (row) => row.requests },
  { title: "Refusals per day", value: (row) => row.refused },
  { title: "Cache hits per day", value: (row) => row.cache_hits },
];

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([term, detail]) => [h("dt", {}, term), h("dd", {}, detail)]));
}

function limitsTable(usage) {
  const rows = LIMITS.filter((limit) => limit.name in usage.limits).map((limit) => {
    const state = usage.limits[limit.name];
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, limit.label),
      h("td", { class: "number" }, state ? count(state.limit) : "Unlimited"),
      h("td", { class: "number" }, state ? count(state.remaining) : "—"),
      h("td", {}, state && state.remaining < state.limit ? duration(state.reset_seconds) : "—"),
    );
  });
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, "Limits"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Limit"),
        h("th", { scope: "col", class: "number" }, "Value"),
        h("th", { scope: "col", class: "number" }, "Left now"),
        h("th", { scope: "col" }, "Back to full in"),
      ),
    ),
    h("tbody", {}, rows),
  );
}

function charts(days) {
  const series = [...SERIES];
  if (days.some((row) => typeof row.spend_usd === "number" || typeof row.spend_usd === "string")) {
    series.splice(1, 0, { title: "Spend per day", value: (row) => Number(row.spend_usd ?? 0), format: money });
  }
  return h("div", { class: "charts" }, series.map((item) => barChart({ ...item, rows: days })));
}

export async function keyDetailView(ctx, id) {
  const [key, usage] = await Promise.all([
    ctx.api.get(keyPath(id)),
    ctx.api.get(`${keyPath(id)}/usage`, { days: DAYS }),
  ]);
  const status = keyStatus(key);
  const actions = keyActions(ctx, key, () => ctx.refresh());
  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("p", {}, h("a", { href: "#/keys" }, "All keys")),
    h("h1", { id: "view-title", tabindex: "-1" }, key.name),
    h("p", { class: "subtle" }, statusBadge(status), ` ${key.id} · ${key.prefix}`),
    actions.length ? h("div", { class: "actions" }, actions) : null,
    h("p", {}, h("a", { href: `#/requests/${encodeURIComponent(key.id)}` }, "This key's requests")),
    h("h2", {}, `Last ${DAYS} days`),
    h(
      "p",
      { class: "subtle" },
      `${plural(usage.totals.requests, "request")}, ${plural(usage.totals.images, "image")} generated, `
        + `${count(usage.totals.cached_images)} served from the cache, ${count(usage.totals.refused)} refused.`,
    ),
    charts(usage.days),
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        {},
        h("h2", {}, "Key"),
        h(
          "div",
          { class: "panel" },
          facts([
            ["Status", statusBadge(status)],
            ["ID", key.id],
            ["Key starts with", key.prefix],
            ["Team", key.team_id ?? "—"],
            ["Created", when(key.created_at)],
            ["Expires", key.expires_at === null ? "Never" : when(key.expires_at)],
            ["Revoked", key.revoked_at === null ? "—" : when(key.revoked_at)],
            ["Models", key.models === null ? "Every model" : key.models.join(", ") || "None"],
            ["Cache", key.cache ? "Answers are cached" : "Never cached"],
            ["Source", key.declared ? "Declared in the config file" : "Created through the admin API"],
          ]),
        ),
      ),
      h("div", {}, h("h2", {}, "Limits"), limitsTable(usage)),
    ),
  );
}
