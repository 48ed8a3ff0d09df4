// The admin token lives in this tab's sessionStorage only: never a cookie, never the
// browser's lasting local storage, never a URL. Closing the tab forgets it.

const SLOT = "imagegw.console.token";

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function savedToken() {
  return storage()?.getItem(SLOT) ?? null;
}

export function saveToken(token) {
  storage()?.setItem(SLOT, token);
}

export function forgetToken() {
  storage()?.removeItem(SLOT);
}
