// The console's entry point: sign-in, the page frame, and the views behind the hash routes
// (#/overview, #/keys, #/keys/<id>, #/teams, #/teams/<id>, #/requests, #/requests/<key id>,
// #/audit, #/cache).

import { ApiError, createApi } from "./api.js";
import { fill, h, uid } from "./dom.js";
import { submitWith } from "./forms.js";
import { forgetToken, saveToken, savedToken } from "./session.js";
import { auditView, newAuditState } from "./views/audit.js";
import { cacheView } from "./views/cache.js";
import { keyDetailView } from "./views/key-detail.js";
import { keysView, newKeysState } from "./views/keys.js";
import { overviewView } from "./views/overview.js";
import { newRequestsState, requestsView } from "./views/requests.js";
import { teamDetailView } from "./views/team-detail.js";
import { teamsView } from "./views/teams.js";

/** The views in the navigation, in order; each names the routes it answers. */
const VIEWS = [
  { name: "overview", label: "Overview", render: (ctx) => overviewView(ctx) },
  { name: "keys", label: "Keys", render: (ctx) => keysView(ctx), detail: (ctx, id) => keyDetailView(ctx, id) },
  {
    name: "teams",
    label: "Teams",
    render: (ctx) => teamsView(ctx),
    detail: (ctx, id) => teamDetailView(ctx, id),
    onlyWhenTeams: true,
  },
  {
    name: "requests",
    label: "Requests",
    render: (ctx) => requestsView(ctx),
    detail: (ctx, keyId) => requestsView(ctx, keyId),
  },
  { name: "audit", label: "Audit", render: (ctx) => auditView(ctx) },
  { name: "cache", label: "Cache", render: (ctx) => cacheView(ctx) },
];

const root = document.getElementById("root");

function notFound() {
  return h(
    "section",
    {},
    h("h1", { tabindex: "-1" }, "Not found"),
    h("p", {}, "There is no such page in the console. ", h("a", { href: "#/overview" }, "Go to the overview"), "."),
  );
}

function routeOf(hash) {
  let parts;
  try {
    parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return { name: null, render: notFound };
  }
  const view = VIEWS.find((v) => v.name === (parts[0] ?? "overview"));
  if (view && parts.length <= 1) return view;
  if (view?.detail && parts.length === 2) return { name: view.name, render: (ctx) => view.detail(ctx, parts[1]) };
  return { name: null, render: notFound };
}

function signInView(message = "") {
  const tokenId = uid("token");
  const input = h("input", { id: tokenId, type: "password", required: true, autocomplete: "off", spellcheck: "false" });
  const error = h("p", { class: "error", role: "alert" }, message);
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      method: "post",
      on: {
        submit: submitWith({
          button,
          error,
          work: () => signIn(input.value),
          failed: (failure) => {
            if (failure.status === 401) error.textContent = "That admin token was not accepted.";
            input.focus();
            input.select();
          },
        }),
      },
    },
    h("label", { for: tokenId }, "Admin token"),
    input,
    error,
    h("div", { class: "form-actions" }, button),
  );
  fill(
    root,
    h(
      "main",
      { class: "sign-in" },
      h("h1", {}, "imagegw console"),
      h("p", {}, "Sign in with the gateway's admin token or its read-only token. It is kept in this tab only."),
      form,
    ),
  );
  input.focus();
}

async function signIn(token) {
  const who = await createApi(token).get("/admin/whoami");
  saveToken(token);
  startConsole(token, who.role);
}

function startConsole(token, role) {
  const notice = h("div", { class: "notice", role: "status" });
  const banner = h("div", { class: "notice banner-error", role: "alert" });
  const main = h("main", { id: "main", tabindex: "-1" });
  const links = VIEWS.map((view) => h("a", { href: `#/${view.name}`, "data-view": view.name }, view.label));
  const items = VIEWS.map((view, i) => h("li", { hidden: view.onlyWhenTeams }, links[i]));
  let sequence = 0;

  function signOut(message = "") {
    window.removeEventListener("hashchange", navigate);
    for (const dialog of document.querySelectorAll("dialog")) dialog.close();
    forgetToken();
    signInView(message);
  }

  const ctx = {
    api: createApi(token, {
      onUnauthorized: () => signOut("The admin token is no longer accepted: sign in again."),
    }),
    role,
    canWrite: role === "admin",
    state: { keys: newKeysState(), requests: newRequestsState(), audit: newAuditState() },
    notify(message) {
      banner.textContent = "";
      notice.textContent = message;
    },
    fail(failure) {
      notice.textContent = "";
      banner.textContent = failure instanceof Error ? failure.message : String(failure);
    },
    refresh() {
      show(false);
    },
    /** Show the Teams entry of the navigation only while teams exist. */
    teamsKnown(exist) {
      VIEWS.forEach((view, i) => {
        if (view.onlyWhenTeams) items[i].hidden = !exist;
      });
    },
  };

  async function show(moving) {
    sequence += 1;
    const mine = sequence;
    const route = routeOf(window.location.hash);
    for (const link of links) {
      if (link.dataset.view === route.name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    main.setAttribute("aria-busy", "true");
    if (moving) {
      notice.textContent = "";
      banner.textContent = "";
      fill(main, h("p", { class: "loading" }, "Loading…"));
    }
    try {
      const view = await route.render(ctx);
      if (mine !== sequence) return;
      fill(main, view);
      const heading = main.querySelector("h1");
      document.title = `${heading?.textContent ?? "Console"} · imagegw console`;
      if (moving) heading?.focus();
    } catch (failure) {
      if (mine !== sequence || (failure instanceof ApiError && failure.status === 401)) return;
      fill(main, h("h1", { tabindex: "-1" }, "This page could not be shown"), h("p", { class: "error" }, failure.message));
      if (moving) main.querySelector("h1").focus();
    } finally {
      if (mine === sequence) main.removeAttribute("aria-busy");
    }
  }

  function navigate() {
    show(true);
  }

  const skip = h(
    "a",
    {
      class: "skip-link",
      href: "#main",
      on: {
        click: (event) => {
          event.preventDefault();
          main.focus();
        },
      },
    },
    "Skip to content",
  );
  fill(
    root,
    skip,
    h(
      "header",
      { class: "topbar" },
      h("p", { class: "brand" }, "imagegw console"),
      h("nav", { "aria-label": "Console" }, h("ul", {}, items)),
      h("span", { class: "spacer" }),
      role === "readonly" ? h("span", { class: "role" }, "Read-only token: nothing can be changed") : null,
      h("button", { type: "button", on: { click: () => signOut() } }, "Sign out"),
    ),
    notice,
    banner,
    main,
  );
  window.addEventListener("hashchange", navigate);
  show(true);
  ctx.api.get("/admin/teams").then(
    (listing) => ctx.teamsKnown(listing.data.length > 0),
    () => {},
  );
}

async function boot() {
  const token = savedToken();
  if (!token) {
    signInView();
    return;
  }
  fill(root, h("p", { class: "loading sign-in" }, "Signing in…"));
  try {
    await signIn(token);
  } catch (failure) {
    forgetToken();
    signInView(failure instanceof ApiError && failure.status === 401 ? "" : failure.message);
  }
}

boot();
