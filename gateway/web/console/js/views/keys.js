// Keys: search by name, filter by status, page through, create, and act on each key.

import { h, fill, uid } from "../dom.js";
import { showSecretOnce } from "../dialogs.js";
import { STATUSES, keyStatus, limitsText, statusBadge, todayText } from "../format.js";
import { keyActions } from "../key-actions.js";
import { openKeyForm } from "../key-form.js";

const PAGE_SIZE = 50;
const SEARCH_DELAY_MS = 250;

export function newKeysState() {
  return { q: "", status: "", cursors: [null], page: 0 };
}

function focusAfter(results, focus) {
  if (!focus) return;
  if (focus.pager) {
    const wanted = [...results.querySelectorAll(".pager button")].find(
      (b) => b.textContent === focus.pager && !b.disabled,
    );
    (wanted ?? results.querySelector(".pager button:not(:disabled)"))?.focus();
    return;
  }
  const row = [...results.querySelectorAll("tbody tr")].find((r) => r.dataset.keyId === focus.id);
  const target = row && [...row.querySelectorAll("button")].find((b) => b.textContent === focus.label);
  (target ?? row?.querySelector("a") ?? results.querySelector("table"))?.focus();
}

function keyRow(ctx, key, changed) {
  const actions = keyActions(ctx, key, changed);
  return h(
    "tr",
    { "data-key-id": key.id },
    h("th", { scope: "row", class: "name-cell" }, h("a", { href: `#/keys/${encodeURIComponent(key.id)}` }, key.name)),
    h("td", {}, statusBadge(keyStatus(key))),
    h("td", {}, key.team_id ?? "—"),
    h("td", {}, limitsText(key)),
    h("td", {}, todayText(key)),
    ctx.canWrite ? h("td", {}, h("div", { class: "actions" }, actions)) : null,
  );
}

function keysTable(ctx, keys, filtered, changed) {
  const columns = ["Name", "Status", "Team", "Limits", "Today's use"];
  if (ctx.canWrite) columns.push("Actions");
  const empty = filtered ? "No keys match this search." : "No keys yet.";
  return h(
    "table",
    { tabindex: "-1" },
    h("caption", { class: "visually-hidden" }, "Keys"),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      keys.length
        ? keys.map((key) => keyRow(ctx, key, changed))
        : h("tr", {}, h("td", { colspan: String(columns.length), class: "subtle" }, empty)),
    ),
  );
}

export function keysView(ctx) {
  const state = ctx.state.keys;
  const results = h("div", { class: "results" });
  const summary = h("p", { class: "visually-hidden", role: "status" });
  let sequence = 0;

  async function load(focus = null) {
    sequence += 1;
    const mine = sequence;
    const started = performance.now();
    let page;
    try {
      page = await ctx.api.get("/admin/keys", {
        limit: PAGE_SIZE,
        after: state.cursors[state.page],
        q: state.q,
        status: state.status,
        include: "usage",
      });
    } catch (failure) {
      if (mine === sequence) ctx.fail(failure);
      return;
    }
    if (mine !== sequence) return;
    const filtered = Boolean(state.q || state.status);
    const changed = (id, label) => load({ id, label });
    const first = state.page * PAGE_SIZE + 1;
    fill(
      results,
      keysTable(ctx, page.data, filtered, changed),
      h(
        "nav",
        { class: "pager", "aria-label": "Pages of keys" },
        h("button", { type: "button", disabled: state.page === 0, on: { click: () => turn(-1) } }, "Previous"),
        h("span", {}, page.data.length ? `Keys ${first}–${first + page.data.length - 1}` : "No keys"),
        h("button", { type: "button", disabled: !page.has_more, on: { click: () => turn(1, page.next_after) } }, "Next"),
      ),
    );
    summary.textContent = page.data.length
      ? `Showing keys ${first} to ${first + page.data.length - 1}${page.has_more ? ", more on the next page" : ""}.`
      : "No keys to show.";
    performance.measure("console:keys", { start: started, end: performance.now() });
    focusAfter(results, focus);
  }

  function turn(step, cursor) {
    if (step > 0) {
      state.cursors[state.page + 1] = cursor;
      state.page += 1;
    } else {
      state.page = Math.max(0, state.page - 1);
    }
    load({ pager: step > 0 ? "Next" : "Previous" });
  }

  function restart() {
    state.cursors = [null];
    state.page = 0;
    load();
  }

  const searchId = uid("search");
  const search = h("input", { id: searchId, type: "search", value: state.q, autocomplete: "off", spellcheck: "false" });
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (search.value.trim() !== state.q) {
        state.q = search.value.trim();
        restart();
      }
    }, SEARCH_DELAY_MS);
  });
  const statusId = uid("status");
  const status = h(
    "select",
    { id: statusId, on: { change: () => { state.status = status.value; restart(); } } },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  status.value = state.status;

  const create = ctx.canWrite
    ? h("button", {
        type: "button",
        class: "primary push",
        on: {
          click: () =>
            openKeyForm({
              save: async (body) => {
                const created = await ctx.api.post("/admin/keys", body);
                ctx.notify(`Created key ${created.name}.`);
                load();
                return () =>
                  showSecretOnce({
                    title: "Key created",
                    intro: `Copy the key for “${created.name}” now: it is shown only this once and cannot be recovered.`,
                    label: "New key",
                    secret: created.key,
                  });
              },
            }),
        },
      }, "Create key")
    : null;

  load();
  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("h1", { id: "view-title", tabindex: "-1" }, "Keys"),
    h(
      "form",
      {
        class: "toolbar",
        role: "search",
        method: "post",
        on: {
          submit: (event) => {
            event.preventDefault();
            clearTimeout(timer);
            state.q = search.value.trim();
            restart();
          },
        },
      },
      h("div", { class: "field" }, h("label", { for: searchId }, "Search"), search),
      h("div", { class: "field" }, h("label", { for: statusId }, "Status"), status),
      create,
    ),
    summary,
    results,
  );
}
