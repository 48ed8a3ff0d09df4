// Requests: the request log, newest first, filtered by key, team, model and status.

import { h, uid } from "../dom.js";
import { count, exactTime, money } from "../format.js";
import { LOG_PAGE_SIZE, newLogPages, pagedLog } from "../log-pages.js";

const FILTERS = [
  { name: "key_id", label: "Key ID" },
  { name: "team_id", label: "Team ID" },
  { name: "model", label: "Model" },
];

const STATUS_CHOICES = [
  ["", "Any status"],
  ["2xx", "2xx answered"],
  ["4xx", "4xx refused"],
  ["5xx", "5xx failed"],
  ["400", "400 invalid request"],
  ["401", "401 bad key"],
  ["403", "403 not allowed"],
  ["429", "429 rate or quota"],
  ["499", "499 client left"],
  ["502", "502 upstream failed"],
  ["503", "503 store unavailable"],
  ["504", "504 upstream timeout"],
];

export function newRequestsState() {
  return { filters: { key_id: "", team_id: "", model: "", status: "" }, pages: newLogPages() };
}

function milliseconds(value) {
  return value === null || value === undefined ? "—" : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

function statusCell(entry) {
  const band = `code code-${String(entry.status)[0]}xx`;
  return h(
    "td",
    {},
    h("span", { class: band }, String(entry.status)),
    entry.error_code ? h("span", { class: "hint" }, entry.error_code) : null,
  );
}

function requestRow(entry, withPrompt) {
  const key = entry.key_id
    ? h("a", { href: `#/keys/${encodeURIComponent(entry.key_id)}` }, entry.key_id)
    : h("span", { class: "subtle" }, "no key");
  return h(
    "tr",
    {},
    h("th", { scope: "row", class: "nowrap" }, exactTime(entry.created_at)),
    h("td", { class: "name-cell" }, key),
    h("td", { class: "name-cell" }, entry.team_id ? h("a", { href: `#/teams/${encodeURIComponent(entry.team_id)}` }, entry.team_id) : "—"),
    h("td", { class: "name-cell" }, entry.model ?? "—"),
    statusCell(entry),
    h("td", { class: "number" }, count(entry.images)),
    h("td", {}, entry.cache ?? "—"),
    h(
      "td",
      { class: "number" },
      milliseconds(entry.latency_ms),
      entry.upstream_ms === null ? null : h("span", { class: "hint" }, `${milliseconds(entry.upstream_ms)} upstream`),
    ),
    h("td", { class: "number" }, entry.cost_usd === null ? "—" : money(Number(entry.cost_usd))),
    h("td", { class: "mono" }, entry.request_id),
    withPrompt ? h("td", { class: "prompt-cell" }, entry.prompt ?? "—") : null,
  );
}

function requestsTable(entries, page, filtered) {
  const withPrompt = entries.some((entry) => typeof entry.prompt === "string");
  const columns = ["Time (UTC)", "Key", "Team", "Model", "Status", "Images", "Cache", "Latency", "Cost", "Request ID"];
  if (withPrompt) columns.push("Prompt");
  let empty = filtered ? "No requests match these filters." : "No requests logged yet.";
  if (page.next_before) empty = "No matching requests among the entries read for this page; Older reads further back.";
  return h(
    "table",
    { tabindex: "-1" },
    h("caption", { class: "visually-hidden" }, "Requests, newest first"),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      entries.length
        ? entries.map((entry) => requestRow(entry, withPrompt))
        : h("tr", {}, h("td", { colspan: String(columns.length), class: "subtle" }, empty)),
    ),
  );
}

/** The view; `keyId` (from #/requests/<key id>) filters by that key. */
export function requestsView(ctx, keyId) {
  const state = ctx.state.requests;
  if (keyId !== undefined) {
    state.filters = { ...state.filters, key_id: keyId };
    state.pages = newLogPages();
  }
  const inputs = {};
  const fields = FILTERS.map((filter) => {
    const id = uid(filter.name);
    inputs[filter.name] = h("input", { id, type: "search", value: state.filters[filter.name], autocomplete: "off", spellcheck: "false" });
    return h("div", { class: "field" }, h("label", { for: id }, filter.label), inputs[filter.name]);
  });
  const statusId = uid("status");
  const status = h(
    "select",
    { id: statusId, on: { change: () => apply() } },
    STATUS_CHOICES.map(([value, label]) => h("option", { value }, label)),
  );
  status.value = state.filters.status;
  inputs.status = status;

  const filtered = () => Object.values(state.filters).some(Boolean);
  const log = pagedLog({
    ctx,
    pages: state.pages,
    noun: "Requests",
    load: (before) => ctx.api.get("/admin/requests", { ...state.filters, limit: LOG_PAGE_SIZE, before }),
    table: (entries, page) => requestsTable(entries, page, filtered()),
  });

  function apply() {
    state.filters = Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.value.trim()]));
    if (keyId !== undefined && state.filters.key_id !== keyId) history.replaceState(null, "", "#/requests");
    log.restart();
  }

  function clear() {
    for (const input of Object.values(inputs)) input.value = "";
    apply();
  }

  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("h1", { id: "view-title", tabindex: "-1" }, "Requests"),
    h(
      "p",
      { class: "subtle" },
      "Every answered image request, newest first: who asked, for which model, what the gateway answered and how long it took.",
    ),
    h(
      "form",
      {
        class: "toolbar",
        role: "search",
        "aria-label": "Filter requests",
        method: "post",
        on: {
          submit: (event) => {
            event.preventDefault();
            apply();
          },
        },
      },
      fields,
      h("div", { class: "field" }, h("label", { for: statusId }, "Status"), status),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "primary" }, "Filter"),
        h("button", { type: "button", on: { click: clear } }, "Clear"),
        h("button", { type: "button", on: { click: () => log.restart() } }, "Refresh"),
      ),
    ),
    log.element,
  );
}

