"""The README tells the truth: its "Try it" runs as written, its tables match the app."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from starlette.routing import Route

from gateway.cli.main import main
from gateway.limits.usage import MAX_DAYS
from gateway.settings.model import Settings
from gateway.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def commands(text: str) -> list[str]:
    """The shell commands of the ``sh`` blocks of ``text``, in order (comments dropped)."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def venv_targets() -> set[str]:
    """The make targets whose recipes first create and install .venv."""
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z-]+):[^\n=]*\$\(STAMP\)", makefile, re.M))


def test_try_it_runs_in_the_order_written_on_a_fresh_clone() -> None:
    steps = commands(section("Try it"))
    assert steps, "no commands in Try it"
    venv = False
    for step in steps:
        words = shlex.split(step)
        if words[0] == "make":
            assert words[1] in venv_targets(), f"make {words[1]} does not create .venv"
            venv = True
        if any(word.startswith(".venv/") for word in words):
            assert venv, f"{step!r} needs a .venv that no earlier command made"


def test_every_gateway_command_in_try_it_and_cli_parses() -> None:
    for step in commands(section("Try it")) + commands(section("CLI")):
        words = shlex.split(step)
        if not words[0].endswith("gateway") or "|" in words:
            continue
        args = [w for w in words[1:] if not re.fullmatch(r"\[.*\]|\.\.\.", w)]
        args = [w for w in args if "[" not in w and "]" not in w and "|" not in w]
        command: click.Command = main
        while isinstance(command, click.Group) and args and args[0] in command.commands:
            command = command.commands[args.pop(0)]
        assert not isinstance(command, click.Group), step
        args = ["x" if w.isupper() and w.isalpha() else w for w in args]
        command.make_context(command.name or "", args)


def test_the_endpoint_table_lists_every_route() -> None:
    table = section("Endpoints")
    documented = set(re.findall(r"`(GET|POST|PATCH|DELETE) (/[^`\[?]*)", table))
    app = create_app(Settings())
    routes = {
        (method, route.path.replace(":path}", "}"))
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    named = {"/admin/teams": "{team_id}"}
    assert routes == {
        (m, p.replace("{id}", next((v for k, v in named.items() if p.startswith(k)), "{key_id}")))
        for m, p in documented
    }
    for path in ("/metrics", "/openapi.json", "/healthz", "/readyz"):
        row = next(line for line in table.splitlines() if f"`GET {path}`" in line)
        assert row.split("|")[2].strip() == "none"


def test_usage_days_are_documented_as_the_api_accepts_them() -> None:
    ranges = re.findall(r"days[^|\n]*?\b1 to (\d+)", README)
    assert ranges and all(int(r) == MAX_DAYS for r in ranges)
    assert "kept 100 days" not in README


@pytest.mark.parametrize(
    "needle",
    [
        '"metadata"?',
        "`metadata` is any JSON object kept with the key",
        "a change made to them through the admin API or the CLI lasts until the next\nrestart",
        "`/metrics` (like `/healthz`, `/readyz` and\n  `/openapi.json`) needs no token",
        "do not route\n  `/metrics` at the load balancer",
    ],
)
def test_what_operators_asked_about_is_documented(needle: str) -> None:
    assert needle in README
