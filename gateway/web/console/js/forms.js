// One way for every form to submit: no page load, the button held while the call runs, and
// a failure shown in the form's alert line.

import { ApiError } from "./api.js";

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
