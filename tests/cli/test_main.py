"""The ``gateway`` command as a user types it (in process, through click's runner)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from gateway.cli.main import main
from gateway.keys.material import generate_key, hash_key
from gateway.store.types import LIMIT_NAMES, MONEY_LIMITS
from gateway.testing.procs import free_port

SECRET = "s" * 32


def commands(group: click.Group, prefix: str = "gateway") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [(prefix, group)]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
        else:
            found.append((f"{prefix} {name}", command))
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{path} {'/'.join(param.opts)}"
        for path, command in commands(main)
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert missing == []
    assert all((command.help or "").strip() for _, command in commands(main))


@pytest.mark.parametrize("group", ["keys", "teams"])
def test_every_limit_is_an_option_and_can_be_removed(group: str) -> None:
    for name in ("create", "update"):
        command = main.commands[group].commands[name]  # type: ignore[attr-defined]
        options = {p.name: p for p in command.params if isinstance(p, click.Option)}
        assert set(LIMIT_NAMES) <= set(options)
        assert all(options[n].type is click.STRING for n in MONEY_LIMITS)
    update = main.commands[group].commands["update"]  # type: ignore[attr-defined]
    unlimited = next(p for p in update.params if p.name == "unlimited")
    assert isinstance(unlimited.type, click.Choice)
    assert tuple(unlimited.type.choices) == LIMIT_NAMES


@pytest.mark.parametrize(
    "key",
    [
        "gwk_short",
        "sk-" + "a" * 43,
        generate_key() + "x",
        generate_key()[:-1] + "!",
        generate_key()[:-1] + "B",
        generate_key()[:-1] + "_",
        " " + generate_key(),
    ],
)
def test_keys_hash_refuses_what_keys_create_could_never_make(key: str) -> None:
    result = CliRunner().invoke(main, ["keys", "hash", key], env={"GATEWAY_KEY_SECRET": SECRET})
    assert result.exit_code == 2
    assert result.stderr == (
        "gateway: not a gateway key: a key is gwk_ followed by 43 URL-safe characters\n"
    )
    assert "key_hash" not in result.stdout


def test_keys_hash_hashes_a_key_as_the_gateway_does() -> None:
    key = generate_key()
    result = CliRunner().invoke(main, ["keys", "hash", key], env={"GATEWAY_KEY_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    assert result.stdout == f"key_hash: {hash_key(SECRET.encode(), key)}\n"


def test_keys_hash_refuses_a_secret_the_gateway_would_refuse() -> None:
    result = CliRunner().invoke(main, ["keys", "hash"], env={"GATEWAY_KEY_SECRET": "short"})
    assert result.exit_code == 2
    assert result.stderr == (
        "gateway: invalid setting GATEWAY_KEY_SECRET: must be at least 32 bytes long\n"
    )


@pytest.mark.parametrize(
    ("option", "variable", "built_in"),
    [
        ("--url", "GATEWAY_URL", "http://127.0.0.1:8080"),
        ("--upstream", "GATEWAY_UPSTREAM_URL", "https://api.aimlapi.com"),
    ],
)
def test_help_shows_the_default_in_effect(option: str, variable: str, built_in: str) -> None:
    with_option = [
        path.split()[1:]
        for path, command in commands(main)
        if any(option in param.opts for param in command.params)
    ]
    assert with_option
    for args in with_option:
        unset = CliRunner().invoke(main, [*args, "--help"], env={variable: None})
        assert built_in in unset.stdout and variable in unset.stdout
        set_ = CliRunner().invoke(main, [*args, "--help"], env={variable: "http://gw.example:9"})
        assert "http://gw.example:9" in set_.stdout and built_in not in set_.stdout


@pytest.mark.parametrize(
    "args",
    [["keys", "list"], ["keys", "show", "mobile-app"], ["usage", "mobile-app"], ["cache", "stats"]],
)
def test_a_gateway_that_cannot_be_reached_is_named(args: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, [*args, "--url", url], env={"GATEWAY_ADMIN_TOKEN": "t" * 24})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"gateway: cannot reach the gateway at {url}: ")
    assert len(result.stderr.splitlines()) == 1
