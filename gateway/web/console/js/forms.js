// One way for every form to submit (no page load, the button held while the call runs, and
// a failure shown in the form's alert line), and one way to label a field.

import { ApiError } from "./api.js";
import { openDialog } from "./dialogs.js";
import { h, uid } from "./dom.js";

/** A labelled field: the label linked to `input`, and an optional hint describing it. */
export function field({ label, input, hint }) {
  const id = uid("field");
  input.id = id;
  const children = [h("label", { for: id }, label), input];
  if (hint) {
    const hintId = uid("hint");
    input.setAttribute("aria-describedby", hintId);
    children.push(h("span", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, children);
}

/**
 * A submit listener running `work()`. An ApiError's message goes into `error` and
 * `failed(failure)` runs (to move the focus); anything else is a bug and propagates.
 */
export function submitWith({ button, error, work, failed = () => {} }) {
  return async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await work();
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      error.textContent = failure.message;
      failed(failure);
    } finally {
      button.disabled = false;
    }
  };
}

/** The fields of `wanted` whose value differs from `before` (what an edit form sends). */
export function changedFields(wanted, before) {
  return Object.fromEntries(
    Object.entries(wanted).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(before[name])),
  );
}

/**
 * Open a form in a modal dialog titled `title`: `fields`, an alert line, Cancel and a
 * submit button labelled `submitLabel`. On submit, `save(body())` runs unless `body()` is
 * empty; its API errors are shown in the form (focusing `inputs[param]`). `save` may return
 * a function, run once the dialog has closed (to open what comes next). Focus starts on
 * `inputs.name`, or the first input when there is none; `submitClass` styles the button.
 */
export function openFormDialog({
  title,
  submitLabel,
  submitClass = "primary",
  inputs,
  fields,
  body,
  save,
}) {
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: submitClass }, submitLabel);
  const form = h(
    "form",
    {
      method: "post",
      on: {
        submit: submitWith({
          button: submit,
          error,
          work: async () => {
            const changes = body();
            const then = Object.keys(changes).length > 0 ? await save(changes) : null;
            close();
            if (typeof then === "function") then();
          },
          failed: (failure) => inputs[failure.param]?.focus(),
        }),
      },
    },
    fields,
    error,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "button", on: { click: () => close() } }, "Cancel"),
      submit,
    ),
  );
  const { close } = openDialog({ title, content: form });
  (inputs.name ?? Object.values(inputs)[0]).focus();
}
