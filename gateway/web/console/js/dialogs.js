// Modal dialogs on the native <dialog> element: focus moves in, stays in, Escape closes,
// and focus returns to the control that opened it.

import { h, uid } from "./dom.js";

/** Open a modal dialog titled `title` holding `content`; returns {dialog, close}. */
export function openDialog({ title, content, onClose }) {
  const titleId = uid("dialog-title");
  const opener = document.activeElement;
  const dialog = h("dialog", { "aria-labelledby": titleId }, h("h2", { id: titleId }, title), content);
  dialog.addEventListener("close", () => {
    dialog.remove();
    onClose?.();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close: () => dialog.close() };
}

/** Ask before doing something that cannot be undone; resolves true when confirmed. */
export function confirmAction({ title, message, confirmLabel }) {
  return new Promise((resolve) => {
    let confirmed = false;
    const { close } = openDialog({
      title,
      content: [
        h("p", {}, message),
        h(
          "div",
          { class: "form-actions" },
          h("button", { type: "button", autofocus: true, on: { click: () => close() } }, "Cancel"),
          h(
            "button",
            { type: "button", class: "primary danger", on: { click: () => { confirmed = true; close(); } } },
            confirmLabel,
          ),
        ),
      ],
      onClose: () => resolve(confirmed),
    });
  });
}

async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.select();
    return document.execCommand("copy");
  }
}

/** Show a new secret once, with a copy button; it is wiped from the page on close, then
 * `onClose` runs. */
export function showSecretOnce({ title, intro, label, secret, onClose }) {
  const inputId = uid("secret");
  const input = h("input", {
    id: inputId,
    class: "secret",
    type: "text",
    readOnly: true,
    value: secret,
    autocomplete: "off",
    spellcheck: "false",
  });
  const status = h("p", { role: "status", class: "hint" });
  const copyButton = h("button", {
    type: "button",
    autofocus: true,
    on: {
      click: async () => {
        const copied = await copy(input.value, input);
        status.textContent = copied
          ? "Copied to the clipboard."
          : "Copying is not allowed here: select the key and copy it by hand.";
      },
    },
  }, "Copy");
  const { close } = openDialog({
    title,
    content: [
      h("p", {}, intro),
      h("label", { for: inputId }, label),
      h("div", { class: "secret-row" }, input, copyButton),
      status,
      h("div", { class: "form-actions" }, h("button", { type: "button", class: "primary", on: { click: () => close() } }, "Done")),
    ],
    onClose: () => {
      input.value = "";
      onClose?.();
    },
  });
}
