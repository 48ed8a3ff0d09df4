// Audit: every admin change, newest first: what changed, on what, by which token, from where.

import { h } from "../dom.js";
import { exactTime, when } from "../format.js";
import { LOG_PAGE_SIZE, newLogPages, pagedLog } from "../log-pages.js";

const TIMES = new Set(["expires_at", "revoked_at"]);

export function newAuditState() {
  return { pages: newLogPages() };
}

function shown(field, value) {
  if (value === null || value === undefined) return "—";
  if (TIMES.has(field) && typeof value === "number") return when(value);
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function changesList(changes) {
  const fields = Object.entries(changes ?? {});
  if (!fields.length) return "—";
  return h(
    "ul",
    { class: "changes" },
    fields.map(([field, [before, after]]) =>
      h("li", {}, h("span", { class: "field" }, field), ": ", shown(field, before), " → ", shown(field, after)),
    ),
  );
}

function targetCell(target) {
  const label = target.name ?? target.id;
  const views = { key: "keys", team: "teams" };
  const name = views[target.kind]
    ? h("a", { href: `#/${views[target.kind]}/${encodeURIComponent(target.id)}` }, label)
    : h("span", {}, label);
  return h(
    "td",
    { class: "name-cell" },
    h("span", { class: "hint" }, target.kind),
    name,
    target.name && target.name !== target.id ? h("span", { class: "hint mono" }, target.id) : null,
  );
}

function auditRow(entry) {
  return h(
    "tr",
    {},
    h("th", { scope: "row", class: "nowrap" }, exactTime(entry.at)),
    h("td", {}, h("span", { class: "action" }, entry.action)),
    targetCell(entry.target),
    h("td", {}, changesList(entry.changes)),
    h("td", { class: "mono nowrap" }, entry.actor),
    h("td", { class: "mono nowrap" }, entry.source_ip ?? "—"),
    h("td", { class: "mono" }, entry.request_id ?? "—"),
  );
}

function auditTable(entries) {
  const columns = ["Time (UTC)", "Action", "Target", "Changes", "Actor", "From", "Request ID"];
  return h(
    "table",
    { tabindex: "-1" },
    h("caption", { class: "visually-hidden" }, "Admin changes, newest first"),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      entries.length
        ? entries.map(auditRow)
        : h("tr", {}, h("td", { colspan: String(columns.length), class: "subtle" }, "No admin changes recorded yet.")),
    ),
  );
}

export function auditView(ctx) {
  const state = ctx.state.audit;
  const log = pagedLog({
    ctx,
    pages: state.pages,
    noun: "Changes",
    load: (before) => ctx.api.get("/admin/audit", { limit: LOG_PAGE_SIZE, before }),
    table: (entries) => auditTable(entries),
  });
  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("h1", { id: "view-title", tabindex: "-1" }, "Audit"),
    h(
      "p",
      { class: "subtle" },
      "Every change made through the admin API or the config file, newest first. The actor is a fingerprint of the admin token used (never the token); config is the gateway's own start-up.",
    ),
    h("div", { class: "toolbar" }, h("button", { type: "button", on: { click: () => log.restart() } }, "Refresh")),
    log.element,
  );
}
