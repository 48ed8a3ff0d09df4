// Cache: how much the response cache holds, and a purge.

import { confirmAction } from "../dialogs.js";
import { h } from "../dom.js";
import { bytes, count } from "../format.js";

export async function cacheView(ctx) {
  const stats = await ctx.api.get("/admin/cache");
  const purge = ctx.canWrite
    ? h(
        "button",
        {
          type: "button",
          class: "danger",
          on: {
            click: async () => {
              const sure = await confirmAction({
                title: "Purge the cache",
                message: "Delete every cached answer? The next request of each kind goes to the upstream again (and costs again).",
                confirmLabel: "Purge",
              });
              if (!sure) return;
              try {
                const done = await ctx.api.remove("/admin/cache");
                ctx.notify(`Purged ${count(done.deleted)} cached answers.`);
                ctx.refresh();
              } catch (failure) {
                ctx.fail(failure);
              }
            },
          },
        },
        "Purge cache",
      )
    : null;
  return h(
    "section",
    { "aria-labelledby": "view-title" },
    h("h1", { id: "view-title", tabindex: "-1" }, "Cache"),
    h(
      "div",
      { class: "panel" },
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Cached answers"),
        h("dd", {}, count(stats.entries)),
        h("dt", {}, "Size"),
        h("dd", {}, bytes(stats.bytes)),
      ),
    ),
    purge ? h("p", {}, purge) : null,
  );
}
