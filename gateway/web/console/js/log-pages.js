// Paging through a log newest first: "Newer" and "Older" over the cursors the admin API
// hands back (next_before), remembered in the view's state so coming back keeps the page.

import { fill, h } from "./dom.js";

export const LOG_PAGE_SIZE = 50;

export function newLogPages() {
  return { cursors: [null], page: 0 };
}

/**
 * A results area for one log. `load(cursor)` answers a page ({data, next_before});
 * `table(entries, page)` draws it. Returns the element and `restart()` (back to the newest).
 */
export function pagedLog({ ctx, pages, noun, load, table }) {
  const results = h("div", { class: "results" });
  const summary = h("p", { class: "visually-hidden", role: "status" });
  let sequence = 0;

  async function show(focus = null) {
    sequence += 1;
    const mine = sequence;
    let page;
    try {
      page = await load(pages.cursors[pages.page]);
    } catch (failure) {
      if (mine === sequence) ctx.fail(failure);
      return;
    }
    if (mine !== sequence) return;
    const first = pages.page * LOG_PAGE_SIZE + 1;
    const shown = page.data.length;
    const range = shown ? `${noun} ${first}–${first + shown - 1}` : `No ${noun.toLowerCase()} on this page`;
    const newer = h(
      "button",
      { type: "button", "data-step": "newer", disabled: pages.page === 0, on: { click: () => turn(-1) } },
      "Newer",
    );
    const older = h(
      "button",
      { type: "button", "data-step": "older", disabled: !page.next_before, on: { click: () => turn(1, page.next_before) } },
      "Older",
    );
    fill(results, table(page.data, page), h("nav", { class: "pager", "aria-label": `Pages of ${noun.toLowerCase()}` }, newer, h("span", {}, range), older));
    summary.textContent = shown
      ? `Showing ${noun.toLowerCase()} ${first} to ${first + shown - 1}, newest first${page.next_before ? "; older ones on the next page" : ""}.`
      : `No ${noun.toLowerCase()} to show here.`;
    if (focus) (results.querySelector(`[data-step="${focus}"]:not(:disabled)`) ?? results.querySelector(".pager button:not(:disabled)"))?.focus();
  }

  function turn(step, cursor) {
    if (step > 0) {
      pages.cursors[pages.page + 1] = cursor;
      pages.page += 1;
    } else {
      pages.page = Math.max(0, pages.page - 1);
    }
    show(step > 0 ? "older" : "newer");
  }

  function restart() {
    pages.cursors = [null];
    pages.page = 0;
    show();
  }

  show();
  return { element: h("div", {}, summary, results), restart };
}
