"""The console in a real headless Chromium (Debian's package), driven by role and label.

The gateway is a real process on the embedded store in front of the fake upstream; image
requests go through the official SDK. Each view is photographed at a fixed size into
``docs/`` for the README.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AuthenticationError, OpenAI, RateLimitError
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from gateway.testing.procs import wait_until
from tests.e2e.conftest import ADMIN_TOKEN, UPSTREAM_KEY, FakeUpstream, Gateway, GatewayStarter

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READONLY_TOKEN = "test-readonly-token-0123456789abcdef"
VIEWPORT = {"width": 1280, "height": 800}
DOCS = Path(__file__).resolve().parents[2] / "docs"
FIRST_LOAD_BUDGET = 300_000
XSS_NAME = "<img src=x onerror=alert(1)>"
WRITE_CONTROLS = (
    "Create key",
    "Create team",
    "Edit",
    "Disable",
    "Enable",
    "Rotate",
    "Revoke",
    "Purge cache",
)
SPENT = re.compile(r"^\$(?!0\.00$)\d+\.\d+$")
"""Money that is not nothing: the fake upstream reports a cost for every image."""
SPENT_IN_TOTAL = re.compile(r": \$(?!0\.00 )\d+\.\d+ in total")


@dataclass
class Tab:
    """A page in a fresh browser context, with everything it did that a user would notice."""

    page: Page
    context: BrowserContext
    gateway: Gateway
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.gateway.url}/console{route}")

    def sign_in(self, token: str = ADMIN_TOKEN, route: str = "") -> None:
        self.open(route)
        self.page.get_by_label("Admin token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("navigation", name="Console")).to_be_visible()

    def go(self, view: str) -> None:
        self.page.get_by_role("navigation", name="Console").get_by_role("link", name=view).click()
        expect(self.page.get_by_role("heading", level=1, name=view)).to_be_focused()

    def search(self, text: str) -> None:
        self.page.get_by_label("Search").fill(text)
        self.page.get_by_label("Search").press("Enter")

    def row(self, name: str) -> Any:
        return self.page.get_by_role("row").filter(
            has=self.page.get_by_role("link", name=name, exact=True)
        )

    def shoot(self, name: str) -> None:
        DOCS.mkdir(exist_ok=True)
        self.page.mouse.move(0, 0)
        self.page.screenshot(path=DOCS / f"console-{name}.png")


def tile(page: Page, term: str) -> Any:
    """The figure of the Overview tile named ``term``."""
    return (
        page.locator(".tile")
        .filter(has=page.get_by_role("term").filter(has_text=re.compile(f"^{term}$")))
        .get_by_role("definition")
    )


def disable_refuses_then_enable(row: Any, client: OpenAI) -> None:
    """Disable what ``row`` shows (a key or a team), see ``client`` refused, enable it."""
    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("disabled")
    expect(row.get_by_role("button", name="Enable")).to_be_focused()
    with pytest.raises(AuthenticationError):
        client.images.generate(model="dall-e-2", prompt="while disabled")
    row.get_by_role("button", name="Enable").click()
    expect(row).to_contain_text("active")


@pytest.fixture(scope="module")
def console_gateway(start_gateway: GatewayStarter) -> Gateway:
    return start_gateway("embedded", GATEWAY_ADMIN_READONLY_TOKEN=READONLY_TOKEN)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("the console tests need Debian's chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def tab(browser: Browser, console_gateway: Gateway) -> Iterator[Tab]:
    context = browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]
        device_scale_factor=1,
        color_scheme="light",
        locale="en-US",
        timezone_id="UTC",
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_gateway.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    opened = Tab(page, context, console_gateway)

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.errors.append(str(e)))
    page.on("request", lambda r: opened.requests.append(r.url))
    yield opened
    context.close()


@pytest.fixture(scope="module")
def sample_keys(console_gateway: Gateway, fake_proc: Any) -> list[dict[str, Any]]:
    """A few keys with some of today's traffic, so the views have something to show."""
    gw = console_gateway
    made = [
        gw.create_key(name="mobile-app", rpm=60, images_per_day=500),
        gw.create_key(name="web-frontend", images_per_minute=20, images_per_month=10_000),
        gw.create_key(name="batch-jobs", rpm=2),
        gw.create_key(name="partner-acme", images_per_day=50),
    ]
    gw.admin("PATCH", f"/admin/keys/{made[3]['id']}", json={"disabled": True})
    traffic = [
        (0, "a lighthouse", 1),
        (0, "a lighthouse", 1),
        (0, "a lighthouse", 1),
        (0, "a fox in the snow", 2),
        (1, "a harbour at dawn", 2),
        (1, "a red bicycle", 1),
        (2, "a batch image", 1),
        (2, "another batch image", 1),
        (2, "one batch too many", 1),
    ]
    for index, prompt, n in traffic:
        gw.post({"model": "dall-e-2", "prompt": prompt, "n": n}, made[index]["key"])
    gw.post({"model": "dall-e-2", "prompt": "no key"}, "gwk_not-a-real-key")
    return made


def test_the_console_answers_with_strict_headers_and_enforces_them(tab: Tab) -> None:
    response = tab.page.goto(f"{tab.gateway.url}/console")
    assert response is not None and response.status == 200
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    expect(tab.page.get_by_label("Admin token")).to_be_focused()
    refused = tab.page.evaluate(
        """() => {
            const refused = [];
            const attempt = (what, run) => {
                try { run(); } catch (error) { if (error instanceof TypeError) refused.push(what); }
            };
            attempt("html", () => { document.body.innerHTML = "<b>markup</b>"; });
            attempt("handler", () => document.body.setAttribute("onclick", "window.ran = 1"));
            attempt("script", () => {
                const script = document.createElement("script");
                script.append(document.createTextNode("window.ran = 1"));
                document.head.append(script);
            });
            document.body.click();
            return {refused, ran: window.ran === 1};
        }"""
    )
    assert refused == {"refused": ["html", "handler"], "ran": False}
    assert any("TrustedScript" in e for e in tab.errors)
    off = httpx.get(f"{tab.gateway.url}/console/js/main.js", timeout=5)
    assert off.headers["content-security-policy"] == policy


def test_a_wrong_token_shows_an_error_and_nothing_else(tab: Tab) -> None:
    tab.open()
    expect(tab.page.get_by_role("button", name="Sign in")).to_be_visible()
    tab.shoot("sign-in")
    tab.page.get_by_label("Admin token").fill("not-the-admin-token-at-all-0000")
    tab.page.get_by_role("button", name="Sign in").click()
    expect(tab.page.get_by_role("alert")).to_have_text("That admin token was not accepted.")
    expect(tab.page.get_by_role("navigation")).to_have_count(0)
    expect(tab.page.get_by_role("heading", name="Overview")).to_have_count(0)
    expect(tab.page.get_by_role("table")).to_have_count(0)
    assert tab.page.evaluate("sessionStorage.length") == 0
    assert [u for u in tab.requests if "/admin/" in u] == [f"{tab.gateway.url}/admin/whoami"]


def test_create_find_use_disable_enable_and_revoke_a_key(
    tab: Tab, sample_keys: list[dict[str, Any]], upstream: FakeUpstream
) -> None:
    page = tab.page
    tab.sign_in()
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_focused()
    expect(page.get_by_role("main").get_by_text("Requests", exact=True)).to_be_visible()
    expect(tile(page, "Spend")).to_have_text(SPENT)
    tab.shoot("overview")

    tab.go("Keys")
    expect(tab.row("mobile-app")).to_be_visible()
    tab.shoot("keys")
    page.get_by_role("button", name="Create key").click()
    form = page.get_by_role("dialog", name="Create key")
    name = f"Console-{secrets.token_hex(3)}"
    form.get_by_label("Name").fill(name)
    form.get_by_label("Images per day").fill("40")
    form.get_by_label("Requests per minute").fill("30")
    tab.shoot("create-key")
    form.get_by_role("button", name="Create", exact=True).click()

    shown = page.get_by_role("dialog", name="Key created")
    plaintext = shown.get_by_label("New key").input_value()
    assert plaintext.startswith("gwk_")
    shown.get_by_role("button", name="Copy").click()
    expect(shown.get_by_role("status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == plaintext
    shown.get_by_role("button", name="Done").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert plaintext not in page.content()

    tab.search(name.lower()[:10])
    expect(page.get_by_role("row")).to_have_count(2)
    row = tab.row(name)
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("30 req/min · 40 img/day")
    expect(row).to_contain_text("0 / 40 images")
    row.get_by_role("button", name="Edit").click()
    editor = page.get_by_role("dialog", name=f"Edit key {name}")
    expect(editor.get_by_label("Images per day")).to_have_value("40")
    editor.get_by_label("Images per day").fill("45")
    editor.get_by_label("Requests per minute").fill("")
    editor.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("45 img/day")
    expect(row).not_to_contain_text("req/min")
    expect(row.get_by_role("button", name="Edit")).to_be_focused()
    stored = tab.gateway.admin("GET", "/admin/keys", params={"q": name}).json()["data"][0]
    assert (stored["images_per_day"], stored["rpm"], stored["name"]) == (45, None, name)

    client = tab.gateway.client(plaintext)
    for prompt in ("console chart one", "console chart two", "console chart one"):
        client.images.generate(model="dall-e-2", prompt=prompt, n=2)
    row.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_focused()
    expect(page.get_by_role("img", name=re.compile(r"^Images per day"))).to_have_attribute(
        "aria-label", re.compile(r": 4 in total")
    )
    expect(page.get_by_role("img", name=re.compile(r"^Requests per day"))).to_have_attribute(
        "aria-label", re.compile(r": 3 in total")
    )
    expect(page.get_by_role("img", name=re.compile(r"^Cache hits per day"))).to_have_attribute(
        "aria-label", re.compile(r": 1 in total")
    )
    expect(page.get_by_role("img", name=re.compile(r"^Spend per day"))).to_have_attribute(
        "aria-label", SPENT_IN_TOTAL
    )
    tab.shoot("key-detail")

    page.get_by_role("link", name="All keys").click()
    row = tab.row(name)
    expect(row).to_contain_text("4 / 45 images · 3 requests")
    disable_refuses_then_enable(row, client)
    client.images.generate(model="dall-e-2", prompt="enabled again")

    row.get_by_role("button", name="Revoke").click()
    confirm = page.get_by_role("dialog", name="Revoke key")
    expect(confirm).to_contain_text(name)
    confirm.get_by_role("button", name="Cancel").click()
    expect(row).to_contain_text("active")
    client.images.generate(model="dall-e-2", prompt="still works")
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog", name="Revoke key").get_by_role("button", name="Revoke key").click()
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    with pytest.raises(AuthenticationError):
        client.images.generate(model="dall-e-2", prompt="after revoking")

    assert ADMIN_TOKEN not in page.url
    assert page.evaluate("localStorage.length") == 0
    assert tab.context.cookies() == []
    assert tab.errors == [] and tab.dialogs == []


def test_rotate_a_key_the_old_secret_is_refused_after_the_grace(
    tab: Tab, upstream: FakeUpstream
) -> None:
    page = tab.page
    name = f"Rotated-{secrets.token_hex(3)}"
    created = tab.gateway.create_key(name=name, rpm=30)
    old = created["key"]
    assert tab.gateway.post({"model": "dall-e-2", "prompt": "before"}, old).status_code == 201
    tab.sign_in(route="#/keys")
    tab.search(name)
    tab.row(name).get_by_role("button", name="Rotate").click()
    asked = page.get_by_role("dialog", name="Rotate key")
    expect(asked).to_contain_text(name)
    expect(asked.get_by_label("Grace (seconds)")).to_be_focused()
    asked.get_by_label("Grace (seconds)").fill("2")
    asked.get_by_role("button", name="Rotate key").click()

    shown = page.get_by_role("dialog", name="Key rotated")
    expect(shown).to_contain_text("The old key keeps working for 2 seconds.")
    new = shown.get_by_label("New key").input_value()
    assert new.startswith("gwk_") and new != old
    shown.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == new
    shown.get_by_role("button", name="Done").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(tab.row(name).get_by_role("button", name="Rotate")).to_be_focused()
    expect(page.get_by_role("status").first).to_have_text(f"Rotated key {name}.")
    assert new not in page.content()

    def old_refused() -> bool:
        return tab.gateway.post({"model": "dall-e-2", "prompt": "old"}, old).status_code == 401

    wait_until(old_refused, timeout=15, what="the old key to be refused after the grace")
    assert tab.gateway.post({"model": "dall-e-2", "prompt": "new"}, new).status_code == 201
    expect(tab.row(name)).to_contain_text("active")
    assert tab.errors == [] and tab.dialogs == []


def test_names_are_shown_as_text_and_never_run(tab: Tab) -> None:
    page = tab.page
    tab.sign_in(route="#/keys")
    page.get_by_role("button", name="Create key").click()
    page.get_by_role("dialog", name="Create key").get_by_label("Name").fill(XSS_NAME)
    page.get_by_role("dialog", name="Create key").get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Key created")
    expect(shown).to_contain_text(f"Copy the key for “{XSS_NAME}” now")
    shown.get_by_role("button", name="Done").click()
    expect(page.get_by_role("status").first).to_have_text(f"Created key {XSS_NAME}.")
    tab.search("<IMG src")
    link = page.get_by_role("link", name=XSS_NAME, exact=True)
    expect(link).to_have_text(XSS_NAME)
    assert page.locator("main img").count() == 0
    tab.row(XSS_NAME).get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("dialog", name="Revoke key")).to_contain_text(XSS_NAME)
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_NAME)
    expect(page).to_have_title(f"{XSS_NAME} · imagegw console")
    assert page.locator("img:not(svg *)").count() == 0
    assert tab.dialogs == [] and tab.errors == []


def test_teams_appear_once_one_exists_with_their_use_spend_and_charts(
    tab: Tab, sample_keys: list[dict[str, Any]], upstream: FakeUpstream
) -> None:
    page = tab.page
    gw = tab.gateway
    assert gw.admin("GET", "/admin/teams").json()["data"] == []
    tab.sign_in()
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Keys")).to_be_visible()
    expect(nav.get_by_role("link", name="Teams")).to_have_count(0)
    tab.open("#/teams")
    expect(page.get_by_role("cell", name=re.compile("^No teams exist yet"))).to_be_visible()
    page.get_by_role("button", name="Create team").click()
    form = page.get_by_role("dialog", name="Create team")
    form.get_by_label("Name").fill("design")
    form.get_by_label("USD per day").fill("5")
    form.get_by_label("Images per day").fill("100")
    form.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text("Created team design.")
    expect(nav.get_by_role("link", name="Teams")).to_be_visible()
    design = gw.admin("GET", "/admin/teams").json()["data"][0]
    assert (design["name"], design["usd_per_day"], design["images_per_day"]) == ("design", "5", 100)

    members = [gw.create_key(name=f"design-{n}", team_id=design["id"]) for n in range(2)]
    hostile = gw.admin("POST", "/admin/teams", json={"name": XSS_NAME}).json()
    gw.create_key(name="hostile-member", team_id=hostile["id"])
    client = gw.client(members[0]["key"])
    client.images.generate(model="dall-e-2", prompt="a team poster", n=2)
    client.images.generate(model="dall-e-2", prompt="a team poster", n=2)
    gw.client(members[1]["key"]).images.generate(model="dall-e-2", prompt="a team banner")

    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("columnheader")).to_have_text(
        ["Name", "Status", "Limits and budgets", "Today's use", "Today's spend", "Keys", "Actions"]
    )
    row = tab.row("design")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("100 img/day · $5.00/day")
    expect(row).to_contain_text("3 / 100 images · 3 requests")
    expect(row.get_by_role("cell").nth(3)).to_have_text(re.compile(r"^\$0\.\d+ / \$5\.00$"))
    expect(row.get_by_role("cell").nth(4)).to_have_text("2")
    expect(tab.row(XSS_NAME)).to_contain_text("Unlimited")
    tab.shoot("teams")

    row.get_by_role("button", name="Edit").click()
    editor = page.get_by_role("dialog", name="Edit team design")
    expect(editor.get_by_label("USD per day")).to_have_value("5")
    editor.get_by_label("USD per day").fill("6.5")
    editor.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("$6.50/day")
    expect(row.get_by_role("button", name="Edit")).to_be_focused()
    disable_refuses_then_enable(row, client)

    row.get_by_role("link", name="design").click()
    expect(page.get_by_role("heading", level=1, name="design")).to_be_focused()
    charts = {
        "Images per day": re.compile(r": 3 in total"),
        "Spend per day": SPENT_IN_TOTAL,
        "Requests per day": re.compile(r": 3 in total"),
        "Refusals per day": re.compile(r": none$"),
        "Cache hits per day": re.compile(r": 1 in total"),
    }
    for title, total in charts.items():
        chart = page.get_by_role("img", name=re.compile(f"^{title}"))
        expect(chart).to_have_attribute("aria-label", total)
    expect(page.get_by_role("row").filter(has_text="USD per day")).to_contain_text("$6.50")
    for member in members:
        expect(tab.row(member["name"])).to_contain_text("active")
    tab.shoot("team-detail")

    page.get_by_role("link", name="This team's requests").click()
    expect(page.get_by_role("heading", level=1, name="Requests")).to_be_focused()
    expect(page.get_by_label("Team ID")).to_have_value(design["id"])
    expect(page.get_by_role("row")).to_have_count(5)

    tab.go("Audit")
    edited = page.get_by_role("row").filter(has_text="team.update").first
    expect(edited).to_contain_text("usd_per_day: 5 → 6.5")
    expect(edited.get_by_role("link", name="design")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="team.disable")).to_have_count(1)

    tab.go("Teams")
    create = page.get_by_role("button", name="Create team")
    create.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Create team").get_by_label("Name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(create).to_be_focused()
    tab.row(XSS_NAME).get_by_role("link", name=XSS_NAME, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_NAME)
    expect(page).to_have_title(f"{XSS_NAME} · imagegw console")
    expect(tab.row("hostile-member")).to_be_visible()
    tab.row("hostile-member").get_by_role("link").click()
    expect(page.get_by_role("link", name=XSS_NAME, exact=True)).to_be_visible()
    assert page.locator("img:not(svg *)").count() == 0
    assert tab.dialogs == [] and tab.errors == []


def test_the_readonly_token_sees_every_view_and_no_write_control(
    tab: Tab, sample_keys: list[dict[str, Any]]
) -> None:
    page = tab.page
    tab.sign_in(READONLY_TOKEN)
    expect(page.get_by_text("Read-only token: nothing can be changed")).to_be_visible()
    expect(page.get_by_text("Cache hit ratio")).to_be_visible()
    tab.go("Keys")
    expect(tab.row("mobile-app")).to_be_visible()
    expect(page.get_by_role("columnheader")).to_have_text(
        ["Name", "Status", "Team", "Limits", "Today's use"]
    )
    tab.shoot("readonly")
    tab.row("mobile-app").get_by_role("link", name="mobile-app").click()
    expect(page.get_by_role("img", name=re.compile(r"^Images per day"))).to_be_visible()
    for view in ("Keys", "Teams", "Requests", "Audit", "Cache"):
        tab.go(view)
        for label in WRITE_CONTROLS:
            expect(page.get_by_role("button", name=label)).to_have_count(0)
    assert tab.errors == []


def test_requests_and_audit_show_what_a_key_did_and_what_was_changed(
    tab: Tab, sample_keys: list[dict[str, Any]], upstream: FakeUpstream
) -> None:
    page = tab.page
    name = f"Logged-{secrets.token_hex(3)}"
    created = tab.gateway.create_key(name=name, rpm=3)
    client = tab.gateway.client(created["key"])
    client.images.generate(model="dall-e-2", prompt="a logged lighthouse")
    client.images.generate(model="dall-e-2", prompt="a logged lighthouse")
    client.images.generate(model="dall-e-2", prompt="a logged harbour", n=2)
    with pytest.raises(RateLimitError):
        client.images.generate(model="dall-e-2", prompt="one too many")

    tab.sign_in()
    tab.go("Requests")
    page.get_by_label("Key ID").fill(created["id"])
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("row")
    expect(rows).to_have_count(5)
    expect(rows.nth(1)).to_contain_text("429")
    expect(rows.nth(1)).to_contain_text("rate_limit_exceeded")
    expect(rows.nth(2)).to_contain_text("MISS")
    expect(rows.nth(3)).to_contain_text("HIT")
    for index in range(1, 5):
        expect(rows.nth(index).get_by_role("link", name=created["id"])).to_be_visible()
    page.get_by_label("Status").select_option("4xx")
    expect(rows).to_have_count(2)
    page.get_by_label("Status").select_option("5xx")
    expect(page.get_by_role("cell", name="No requests match these filters.")).to_be_visible()

    rows.first.page.get_by_role("button", name="Clear").click()
    expect(page.get_by_label("Key ID")).to_have_value("")
    expect(rows.nth(1)).to_contain_text(created["id"])
    tab.shoot("requests")

    tab.go("Keys")
    tab.search(name)
    tab.row(name).get_by_role("button", name="Disable").click()
    expect(tab.row(name)).to_contain_text("disabled")
    tab.go("Audit")
    newest = page.get_by_role("row").nth(1)
    expect(newest).to_contain_text("key.disable")
    expect(newest.get_by_role("link", name=name)).to_be_visible()
    expect(newest).to_contain_text("disabled: false → true")
    expect(newest).to_contain_text("admin:")
    created_row = page.get_by_role("row").filter(has_text="key.create").filter(has_text=name)
    expect(created_row).to_contain_text("rpm: — → 3")
    tab.shoot("audit")

    tab.go("Keys")
    tab.search(name)
    tab.row(name).get_by_role("link", name=name).click()
    page.get_by_role("link", name="This key's requests").click()
    expect(page.get_by_role("heading", level=1, name="Requests")).to_be_focused()
    expect(page.get_by_label("Key ID")).to_have_value(created["id"])
    expect(page.get_by_role("row")).to_have_count(5)
    assert tab.errors == [] and tab.dialogs == []


def test_the_cache_view_purges_after_confirming(
    tab: Tab, sample_keys: list[dict[str, Any]]
) -> None:
    page = tab.page
    tab.sign_in(route="#/cache")
    entries = page.get_by_role("definition").first
    expect(entries).not_to_have_text("0")
    tab.shoot("cache")
    page.get_by_role("button", name="Purge cache").click()
    page.get_by_role("dialog", name="Purge the cache").get_by_role("button", name="Purge").click()
    expect(page.get_by_role("status").first).to_have_text(re.compile(r"^Purged \d+ cached answers"))
    expect(entries).to_have_text("0")
    assert tab.gateway.admin("GET", "/admin/cache").json()["entries"] == 0


def test_keyboard_alone_signs_in_creates_a_key_and_disables_it(tab: Tab) -> None:
    page = tab.page
    tab.open()
    expect(page.get_by_label("Admin token")).to_be_focused()
    page.keyboard.type(ADMIN_TOKEN)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_focused()

    def tab_to(role: str, name: str) -> None:
        target = page.get_by_role(role, name=name, exact=True)  # type: ignore[arg-type]
        for _ in range(60):
            page.keyboard.press("Tab")
            if target.evaluate("element => element === document.activeElement"):
                return
        raise AssertionError(f"Tab never reached the {role} {name!r}")

    page.keyboard.press("Shift+Tab")
    tab_to("link", "Keys")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Keys")).to_be_focused()
    tab_to("button", "Create key")
    page.keyboard.press("Enter")
    name = f"keyboard-{secrets.token_hex(3)}"
    expect(page.get_by_label("Name")).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Copy")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("button", name="Create key")).to_be_focused()
    page.get_by_label("Search").focus()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    row = tab.row(name)
    expect(page.get_by_role("row")).to_have_count(2)
    tab_to("button", "Disable")
    page.keyboard.press("Enter")
    expect(row).to_contain_text("disabled")
    expect(row.get_by_role("button", name="Enable")).to_be_focused()


def test_the_first_load_stays_small_and_local(tab: Tab) -> None:
    session = tab.context.new_cdp_session(tab.page)
    session.send("Network.enable")
    sizes: list[int] = []
    session.on("Network.loadingFinished", lambda e: sizes.append(int(e["encodedDataLength"])))
    answered: list[str] = []
    tab.page.on("response", lambda r: answered.append(r.url))
    tab.sign_in()
    expect(tab.page.get_by_text("Cache hit ratio")).to_be_visible()
    total = sum(sizes)
    assert 0 < total < FIRST_LOAD_BUDGET, f"first load transferred {total} bytes"
    timed = tab.page.evaluate(
        """() => performance.getEntriesByType("navigation")
            .concat(performance.getEntriesByType("resource"))
            .reduce((sum, entry) => sum + entry.transferSize, 0)"""
    )
    assert 0 < timed < FIRST_LOAD_BUDGET, f"resource timing says {timed} bytes"
    assert len(sizes) == len(tab.requests) == len(answered)
    gateway = httpx.URL(tab.gateway.url)
    hosts = {(httpx.URL(u).host, httpx.URL(u).port) for u in tab.requests + answered}
    assert hosts == {(gateway.host, gateway.port)}, tab.requests
    assert UPSTREAM_KEY not in "".join(tab.requests)


def test_paging_and_the_status_filter(tab: Tab) -> None:
    prefix = f"page-{secrets.token_hex(3)}"
    made = [tab.gateway.create_key(name=f"{prefix}-{i:02}") for i in range(53)]
    tab.gateway.admin("DELETE", f"/admin/keys/{made[7]['id']}")
    page = tab.page
    tab.sign_in(route="#/keys")
    tab.search(prefix)
    expect(page.get_by_text("Keys 1\u201350")).to_be_visible()
    expect(page.get_by_role("row")).to_have_count(51)
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Keys 51\u201353")).to_be_visible()
    expect(page.get_by_role("row").nth(1)).to_contain_text(f"{prefix}-50")
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    expect(page.get_by_role("button", name="Previous")).to_be_focused()
    page.get_by_role("button", name="Previous").click()
    expect(page.get_by_role("row").nth(1)).to_contain_text(f"{prefix}-00")
    page.get_by_label("Status").select_option("revoked")
    expect(page.get_by_role("row")).to_have_count(2)
    expect(tab.row(f"{prefix}-07")).to_contain_text("revoked")
    tab.search(f"{prefix}-9")
    expect(page.get_by_role("cell", name="No keys match this search.")).to_be_visible()
    assert tab.errors == []
