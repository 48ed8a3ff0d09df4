// What an operator can do to one key, shared by the Keys table and the Key detail view.
// Each action is one button; a read-only token gets none, and a revoked key has none left.

import { keyPath } from "./api.js";
import { confirmAction, showSecretOnce } from "./dialogs.js";
import { h } from "./dom.js";
import { keyStatus } from "./format.js";
import { openKeyForm } from "./key-form.js";
import { openRotateForm } from "./key-rotate.js";

function button(label, run, { danger = false } = {}) {
  return h("button", { type: "button", class: danger ? "danger" : null, on: { click: run } }, label);
}

/**
 * The buttons for `key`. `changed(id, label)` runs after a change, with the label of the
 * button that should take the focus back (null when none remains).
 */
export function keyActions(ctx, key, changed) {
  if (!ctx.canWrite || keyStatus(key) === "revoked") return [];
  const path = keyPath(key.id);
  const attempt = (work) => async () => {
    try {
      await work();
    } catch (failure) {
      ctx.fail(failure);
    }
  };
  const edit = button("Edit", () =>
    openKeyForm({
      key,
      save: async (body) => {
        await ctx.api.patch(path, body);
        ctx.notify(`Saved key ${body.name ?? key.name}.`);
        changed(key.id, "Edit");
      },
    }),
  );
  const toggle = key.disabled
    ? button("Enable", attempt(async () => {
        await ctx.api.patch(path, { disabled: false });
        ctx.notify(`Enabled key ${key.name}.`);
        changed(key.id, "Disable");
      }))
    : button("Disable", attempt(async () => {
        await ctx.api.patch(path, { disabled: true });
        ctx.notify(`Disabled key ${key.name}.`);
        changed(key.id, "Enable");
      }));
  const rotate = button("Rotate", () =>
    openRotateForm({
      key,
      rotate: async (graceSeconds) => {
        const rotated = await ctx.api.post(`${path}/rotate`, { grace_seconds: graceSeconds });
        ctx.notify(`Rotated key ${key.name}.`);
        return () =>
          showSecretOnce({
            title: "Key rotated",
            intro: graceSeconds
              ? `Copy the new key for “${key.name}” now: it is shown only this once. The old key keeps working for ${graceSeconds} seconds.`
              : `Copy the new key for “${key.name}” now: it is shown only this once. The old key is refused from now on.`,
            label: "New key",
            secret: rotated.key,
            onClose: () => changed(key.id, "Rotate"),
          });
      },
    }),
  );
  const revoke = button("Revoke", attempt(async () => {
    const sure = await confirmAction({
      title: "Revoke key",
      message: `Revoke the key “${key.name}”? Every client using it is refused from its next request on. This cannot be undone.`,
      confirmLabel: "Revoke key",
    });
    if (!sure) return;
    await ctx.api.remove(path);
    ctx.notify(`Revoked key ${key.name}.`);
    changed(key.id, null);
  }), { danger: true });
  return [edit, toggle, rotate, revoke];
}
