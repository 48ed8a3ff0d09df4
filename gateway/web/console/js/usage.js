// What Key detail and Team detail both show from a usage report (GET .../usage?days=30):
// the charts of the last days, the totals in a sentence, and what is left of each limit.

import { barChart } from "./chart.js";
import { h } from "./dom.js";
import { ALL_LIMITS, count, duration, limitValue, money, plural } from "./format.js";

export const DAYS = 30;

const SERIES = [
  { title: "Images per day", value: (row) => row.images },
  { title: "Spend per day", value: (row) => Number(row.spend_usd ?? 0), format: money },
  { title: "Requests per day", value: (row) => row.requests },
  { title: "Refusals per day", value: (row) => row.refused },
  { title: "Cache hits per day", value: (row) => row.cache_hits },
];

/**
 * The frame of a detail page: a link back, the title, a status line, the actions, links,
 * then the last days of `usage` and whatever `rest` holds.
 */
export function detailPage({ back, title, subtitle, actions, links, usage, rest }) {
  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("p", {}, back),
    h("h1", { id: "view-title", tabindex: "-1" }, title),
    h("p", { class: "subtle" }, subtitle),
    actions.length ? h("div", { class: "actions" }, actions) : null,
    h("p", {}, links),
    h("h2", {}, `Last ${DAYS} days`),
    h("p", { class: "subtle" }, totalsText(usage.totals)),
    usageCharts(usage.days),
    rest,
  );
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([term, detail]) => [h("dt", {}, term), h("dd", {}, detail)]));
}

/** Two columns: the settings under `heading` as [term, detail] pairs, and `limits`. */
export function settingsColumns(heading, pairs, limits) {
  return h(
    "div",
    { class: "columns" },
    h("div", {}, h("h2", {}, heading), h("div", { class: "panel" }, facts(pairs))),
    h("div", {}, limits),
  );
}

/** One chart per series; spend only when the report carries it. */
export function usageCharts(days) {
  const priced = days.some((row) => row.spend_usd !== undefined && row.spend_usd !== null);
  const series = SERIES.filter((item) => priced || item.format !== money);
  return h("div", { class: "charts" }, series.map((item) => barChart({ ...item, rows: days })));
}

/** "3 requests, 4 images generated, $0.12 spent, 1 served from the cache, 0 refused." */
export function totalsText(totals) {
  const spent = totals.spend_usd === undefined ? "" : `${money(Number(totals.spend_usd))} spent, `;
  return `${plural(totals.requests, "request")}, ${plural(totals.images, "image")} generated, ${spent}`
    + `${count(totals.cached_images)} served from the cache, ${count(totals.refused)} refused.`;
}

/** What is left of each limit in `limits` (a usage report's `limits`), as a table. */
export function limitsTable(limits, caption = "Limits") {
  const rows = ALL_LIMITS.filter((limit) => limit.name in limits).map((limit) => {
    const state = limits[limit.name];
    const used = state && Number(state.remaining) < Number(state.limit);
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, limit.label),
      h("td", { class: "number" }, state ? limitValue(limit, state.limit) : "Unlimited"),
      h("td", { class: "number" }, state ? limitValue(limit, state.remaining) : "—"),
      h("td", {}, used ? duration(state.reset_seconds) : "—"),
    );
  });
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
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
