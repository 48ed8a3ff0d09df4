// Daily bar charts drawn as inline SVG. Each chart has a text alternative (its accessible
// name states the total and the busiest day) and the numbers behind it in a table.

import { h, s, uid } from "./dom.js";
import { count } from "./format.js";

const WIDTH = 600;
const HEIGHT = 130;
const LEFT = 40;
const RIGHT = 6;
const TOP = 10;
const BOTTOM = 22;

function niceCeiling(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/**
 * A figure with one bar per day, oldest on the left.
 * rows: [{day: "YYYY-MM-DD", ...}] in any order, value(row) -> number, format(number) -> string.
 */
export function barChart({ title, rows: given, value, format = count }) {
  const rows = [...given].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  const values = rows.map((row) => Number(value(row)) || 0);
  const total = values.reduce((sum, v) => sum + v, 0);
  const peak = Math.max(0, ...values);
  const busiest = rows[values.indexOf(peak)];
  const top = niceCeiling(peak);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / Math.max(rows.length, 1);
  const barWidth = Math.max(1, slot * 0.72);

  const bars = rows.flatMap((row, i) => {
    if (values[i] <= 0) return [];
    const height = (values[i] / top) * plotHeight;
    return [
      s("rect", {
        class: "bar",
        x: (LEFT + i * slot + (slot - barWidth) / 2).toFixed(2),
        y: (TOP + plotHeight - height).toFixed(2),
        width: barWidth.toFixed(2),
        height: height.toFixed(2),
      }, s("title", {}, `${row.day}: ${format(values[i])}`)),
    ];
  });
  const baseline = TOP + plotHeight;
  const summary = peak > 0
    ? `${title}, last ${rows.length} days: ${format(total)} in total, most on ${busiest.day} (${format(peak)})`
    : `${title}, last ${rows.length} days: none`;
  const labels = rows.length
    ? [
        s("text", { x: LEFT, y: HEIGHT - 6 }, rows[0].day),
        s("text", { x: WIDTH - RIGHT, y: HEIGHT - 6, "text-anchor": "end" }, rows[rows.length - 1].day),
      ]
    : [];
  const svg = s(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": summary, focusable: "false" },
    s("line", { class: "axis", x1: LEFT, x2: WIDTH - RIGHT, y1: TOP, y2: TOP }),
    s("line", { class: "axis", x1: LEFT, x2: WIDTH - RIGHT, y1: baseline, y2: baseline }),
    s("text", { x: LEFT - 6, y: TOP + 4, "text-anchor": "end" }, format(top)),
    s("text", { x: LEFT - 6, y: baseline, "text-anchor": "end" }, "0"),
    bars,
    labels,
  );
  const captionId = uid("chart");
  return h(
    "figure",
    { class: "chart", "aria-labelledby": captionId },
    h("figcaption", { id: captionId }, title, h("span", { class: "total" }, `Total ${format(total)}`)),
    svg,
    h(
      "details",
      {},
      h("summary", {}, "Numbers"),
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, title),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col", class: "number" }, title))),
        h("tbody", {}, rows.map((row, i) => h("tr", {}, h("td", {}, row.day), h("td", { class: "number" }, format(values[i]))))),
      ),
    ),
  );
}
