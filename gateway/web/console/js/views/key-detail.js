// Key detail: the key's settings, what is left of each limit (and of its team's), and its
// last 30 days.

import { keyPath } from "../api.js";
import { h } from "../dom.js";
import { keyStatus, statusBadge, when } from "../format.js";
import { keyActions } from "../key-actions.js";
import { DAYS, detailPage, limitsTable, settingsColumns } from "../usage.js";

function teamLink(key, usage) {
  if (key.team_id === null) return "—";
  return h("a", { href: `#/teams/${encodeURIComponent(key.team_id)}` }, usage.team?.name ?? key.team_id);
}

export async function keyDetailView(ctx, id) {
  const [key, usage] = await Promise.all([
    ctx.api.get(keyPath(id)),
    ctx.api.get(`${keyPath(id)}/usage`, { days: DAYS }),
  ]);
  const status = keyStatus(key);
  const actions = keyActions(ctx, key, () => ctx.refresh());
  return detailPage({
    back: h("a", { href: "#/keys" }, "All keys"),
    title: key.name,
    subtitle: [statusBadge(status), ` ${key.id} · ${key.prefix}`],
    actions,
    links: h("a", { href: `#/requests/${encodeURIComponent(key.id)}` }, "This key's requests"),
    usage,
    rest: settingsColumns(
      "Key",
      [
        ["Status", statusBadge(status)],
        ["ID", key.id],
        ["Key starts with", key.prefix],
        ["Team", teamLink(key, usage)],
        ["Created", when(key.created_at)],
        ["Expires", key.expires_at === null ? "Never" : when(key.expires_at)],
        ["Revoked", key.revoked_at === null ? "—" : when(key.revoked_at)],
        ["Models", key.models === null ? "Every model" : key.models.join(", ") || "None"],
        ["Cache", key.cache ? "Answers are cached" : "Never cached"],
        ["Source", key.declared ? "Declared in the config file" : "Created through the admin API"],
      ],
      [
        h("h2", {}, "Limits"),
        limitsTable(usage.limits),
        usage.team ? [h("h2", {}, "Team limits"), limitsTable(usage.team.limits, "Team limits")] : null,
      ],
    ),
  });
}
