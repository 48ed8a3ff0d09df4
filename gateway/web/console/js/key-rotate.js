// The rotate dialog of a key: how long the old secret keeps working, then the call.

import { h } from "./dom.js";
import { field, openFormDialog } from "./forms.js";

const MAX_GRACE_SECONDS = 7 * 86400;

/**
 * Ask for the grace period and rotate `key`. `rotate(graceSeconds)` performs the call; its
 * API errors are shown in the dialog. It may return a function, run once the dialog has
 * closed (to show the new key).
 */
export function openRotateForm({ key, rotate }) {
  const grace = h("input", {
    type: "number",
    min: "0",
    max: String(MAX_GRACE_SECONDS),
    step: "1",
    inputmode: "numeric",
    required: true,
    value: "0",
  });
  openFormDialog({
    title: "Rotate key",
    submitLabel: "Rotate key",
    submitClass: "primary danger",
    inputs: { grace_seconds: grace },
    body: () => ({ grace_seconds: Number(grace.value) }),
    save: (body) => rotate(body.grace_seconds),
    fields: [
      h("p", {}, `Give the key “${key.name}” a new secret? It keeps its id, name, limits, team and usage; clients must switch to the new key before the grace period ends.`),
      field({
        label: "Grace (seconds)",
        input: grace,
        hint: "How long the old key keeps working: 0 refuses it at once, at most 604800 (7 days).",
      }),
    ],
  });
}
