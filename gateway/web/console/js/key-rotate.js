// The rotate dialog of a key: how long the old secret keeps working, then the call.

import { openDialog } from "./dialogs.js";
import { h, uid } from "./dom.js";
import { submitWith } from "./forms.js";

const MAX_GRACE_SECONDS = 7 * 86400;

/**
 * Ask for the grace period and rotate `key`. `rotate(graceSeconds)` performs the call; its
 * API errors are shown in the dialog. It may return a function, run once the dialog has
 * closed (to show the new key).
 */
export function openRotateForm({ key, rotate }) {
  const graceId = uid("field");
  const hintId = uid("hint");
  const grace = h("input", {
    id: graceId,
    type: "number",
    min: "0",
    max: String(MAX_GRACE_SECONDS),
    step: "1",
    inputmode: "numeric",
    required: true,
    value: "0",
    "aria-describedby": hintId,
  });
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary danger" }, "Rotate key");
  const form = h(
    "form",
    {
      method: "post",
      on: {
        submit: submitWith({
          button: submit,
          error,
          work: async () => {
            const then = await rotate(Number(grace.value));
            close();
            if (typeof then === "function") then();
          },
          failed: () => grace.focus(),
        }),
      },
    },
    h("p", {}, `Give the key “${key.name}” a new secret? It keeps its id, name, limits, team and usage; clients must switch to the new key before the grace period ends.`),
    h(
      "div",
      { class: "field" },
      h("label", { for: graceId }, "Grace (seconds)"),
      grace,
      h("span", { class: "hint", id: hintId }, "How long the old key keeps working: 0 refuses it at once, at most 604800 (7 days)."),
    ),
    error,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "button", on: { click: () => close() } }, "Cancel"),
      submit,
    ),
  );
  const { close } = openDialog({ title: "Rotate key", content: form });
  grace.focus();
}
