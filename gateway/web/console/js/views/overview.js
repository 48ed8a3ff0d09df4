// Overview: today's figures across every key, refusals, and the health of what the gateway
// depends on.

import { h } from "../dom.js";
import { STATUSES, bytes, count, money, percent, statusBadge, when } from "../format.js";

const REASONS = {
  auth: "Bad or missing key or token",
  rate: "Per-minute limit",
  quota: "Day or month quota",
  validation: "Invalid request",
  permission: "Model not allowed",
  store: "Store unavailable",
};

function tiles(pairs) {
  return h(
    "dl",
    { class: "tiles" },
    pairs.map(([term, detail]) => h("div", { class: "tile" }, h("dt", {}, term), h("dd", {}, detail))),
  );
}

function countsTable(caption, heading, entries) {
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, heading), h("th", { scope: "col", class: "number" }, "Count"))),
    h(
      "tbody",
      {},
      entries.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", { class: "number" }, count(value)))),
    ),
  );
}

function todayTiles(data) {
  const today = data.today;
  const pairs = [
    ["Requests", count(today?.requests)],
    ["Images", count(today?.images)],
  ];
  if (today?.spend_usd !== undefined && today?.spend_usd !== null) pairs.push(["Spend", money(Number(today.spend_usd))]);
  pairs.push(
    ["Cache hit ratio", percent(data.cache_hit_ratio)],
    ["Served from cache", count(today?.cached_images)],
    ["Refused", count(today?.refused)],
  );
  return tiles(pairs);
}

function refusals(data) {
  const entries = Object.entries(data.refusals).filter(([, value]) => value > 0);
  if (entries.length === 0) return h("p", { class: "subtle" }, "No refusals since the gateway started.");
  entries.sort((a, b) => b[1] - a[1]);
  return countsTable("Refusals by reason", "Reason", entries.map(([reason, value]) => [REASONS[reason] ?? reason, value]));
}

function health(data) {
  const store = data.store;
  const upstream = data.upstream;
  const storeText = store.status === "ok"
    ? `${store.kind}, answered in ${store.latency_ms} ms`
    : `${store.kind}: ${store.error}`;
  const upstreamText = !upstream.configured
    ? "No upstream key is configured."
    : upstream.calls === 0
      ? "No calls yet."
      : `${count(upstream.calls)} calls, ${count(upstream.failed)} failed (${percent(upstream.failed / upstream.calls)})`;
  const failures = Object.entries(upstream.by_outcome).filter(([outcome]) => outcome !== "ok");
  return h(
    "div",
    { class: "panel" },
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Store"),
      h("dd", {}, statusBadge(store.status), " ", storeText),
      h("dt", {}, "Upstream"),
      h("dd", {}, upstreamText),
    ),
    failures.length ? countsTable("Failed upstream calls by outcome", "Outcome", failures) : null,
  );
}

function keysAndCache(data) {
  if (!data.keys) return h("p", { class: "subtle" }, "Not available while the store is down.");
  return tiles([
    ["Keys", count(data.keys.total)],
    ...STATUSES.map((status) => [status[0].toUpperCase() + status.slice(1), count(data.keys[status])]),
    ["Cached answers", `${count(data.cache.entries)} (${bytes(data.cache.bytes)})`],
  ]);
}

export async function overviewView(ctx) {
  const data = await ctx.api.get("/admin/overview");
  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("h1", { id: "view-title", tabindex: "-1" }, "Overview"),
    h(
      "div",
      { class: "toolbar" },
      h("p", { class: "subtle" }, `Today: ${data.day} (${data.timezone}), across every key and replica.`),
      h("button", { type: "button", class: "push", on: { click: () => ctx.refresh() } }, "Refresh"),
    ),
    todayTiles(data),
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        {},
        h("h2", {}, "Refusals by reason"),
        h("p", { class: "subtle" }, `This gateway, since ${when(data.since)}.`),
        refusals(data),
      ),
      h(
        "div",
        {},
        h("h2", {}, "Health"),
        h("p", { class: "subtle" }, `Upstream figures since ${when(data.since)}.`),
        health(data),
      ),
    ),
    h("h2", {}, "Keys and cache"),
    keysAndCache(data),
  );
}
