"""The console's files: served only with the admin API on, with strict headers, self-contained."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.settings.model import Settings
from gateway.store.memory import MemoryStore
from gateway.web.app import create_app
from gateway.web.routes.console import Console

ADMIN = "admin-token-0123456789-abcdef"
ROOT = Path(__file__).resolve().parents[2]
CONSOLE_DIR = ROOT / "gateway" / "web" / "console"


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, store=MemoryStore(None, cache_max_bytes=10_000)))


@pytest.fixture
def client() -> Iterator[TestClient]:
    with client_for(Settings(admin_token=SecretStr(ADMIN))) as test_client:
        yield test_client


def console_files() -> list[str]:
    return sorted(str(p.relative_to(CONSOLE_DIR)) for p in CONSOLE_DIR.rglob("*") if p.is_file())


def test_the_console_is_not_found_while_the_admin_api_is_off() -> None:
    with client_for(Settings()) as client:
        for path in ("/console", "/console/", "/console/js/main.js"):
            answer = client.get(path)
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "not_found"


def test_every_file_is_served_with_the_security_headers(client: TestClient) -> None:
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
    for name in console_files():
        answer = client.get(f"/console/{name}")
        assert answer.status_code == 200, name
        assert answer.content == (CONSOLE_DIR / name).read_bytes()
        suffix = Path(name).suffix
        assert answer.headers["content-type"].startswith(types.get(suffix, "image/svg+xml"))
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    page = client.get("/console")
    assert page.content == (CONSOLE_DIR / "index.html").read_bytes()
    assert client.get("/console/").content == page.content


def test_unchanged_files_answer_304_and_unknown_ones_404(client: TestClient) -> None:
    first = client.get("/console/console.css")
    again = client.get("/console/console.css", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    for path in ("/console/nope.js", "/console/js/../../app.py", "/console/%2e%2e/settings.py"):
        assert client.get(path).status_code == 404, path


def test_the_page_has_no_inline_code_and_loads_nothing_from_elsewhere() -> None:
    page = (CONSOLE_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline script"
    assert "<style" not in page and " style=" not in page and " on" not in page.lower()
    for name in console_files():
        text = (CONSOLE_DIR / name).read_text()
        outside = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text)
        assert set(outside) <= {"http://www.w3.org"}, (name, outside)
        assert "@import" not in text and "@font-face" not in text, name


def test_scripts_never_parse_strings_as_html_or_code() -> None:
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"localStorage|document\.cookie"
    )
    for path in CONSOLE_DIR.rglob("*.js"):
        assert not forbidden.search(path.read_text()), path.name


def test_every_import_names_a_file_of_the_console() -> None:
    names = set(console_files())
    for path in CONSOLE_DIR.rglob("*.js"):
        for target in re.findall(r'from "(\.[^"]+)"', path.read_text()):
            resolved = (path.parent / target).resolve().relative_to(CONSOLE_DIR)
            assert str(resolved) in names, (path.name, target)


def test_the_package_ships_every_console_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["gateway"]
    shipped = {
        str(p.relative_to(CONSOLE_DIR))
        for pattern in patterns
        if pattern.startswith("web/console/")
        for p in (ROOT / "gateway").glob(pattern)
    }
    assert shipped == set(console_files())
    assert set(Console.load().assets) == set(console_files())
