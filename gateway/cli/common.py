"""What every admin command of the CLI shares: the client, options, output and errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, get_args, get_type_hints

import click
import orjson

from gateway.cli.admin_client import AdminClient, AdminError
from gateway.store.types import LIMIT_DESCRIPTIONS, LIMIT_NAMES, MONEY_LIMITS, Limits


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit without a traceback."""
    click.echo(f"gateway: {message}", err=True)
    sys.exit(code)


def connect(url: str) -> AdminClient:
    """The admin API of the gateway at ``url``, with the token in GATEWAY_ADMIN_TOKEN."""
    token = os.environ.get("GATEWAY_ADMIN_TOKEN")
    if not token:
        fail("set GATEWAY_ADMIN_TOKEN to the gateway's admin token")
    return AdminClient(url, token)


def emit(data: Any, as_json: bool, human: str) -> None:
    """Print ``data`` as JSON for scripts, or the ``human`` text."""
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(human)


def given_limits(options: dict[str, Any]) -> dict[str, Any]:
    """The limit options given on the command line."""
    return {
        name: value for name, value in options.items() if name in LIMIT_NAMES and value is not None
    }


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(...)``, its AdminError as one line and exit code 1."""
    try:
        return fn(*args, **kwargs)
    except AdminError as exc:
        fail(str(exc))


def key_id_of(client: AdminClient, ref: str) -> str:
    """The id of the key ``ref`` names: its id, or its name where that is unique."""
    found: str = call(client.find_key, ref)["id"]
    return found


def team_id_of(client: AdminClient, ref: str) -> str:
    """The id of the team ``ref`` names: its id, or its name where that is unique."""
    found: str = call(client.find_team, ref)["id"]
    return found


def model_list(text: str) -> list[str]:
    """A comma-separated list of models."""
    return [m.strip() for m in text.split(",") if m.strip()]


class EnvDefaultOption(click.Option):
    """An option whose help shows the default in effect: its environment variable's value
    when that is set (click would show the built-in default all the same)."""

    def get_help_extra(self, ctx: click.Context) -> click.types.OptionHelpExtra:
        """The help's bracket: the variable's name, and the value it gives when set."""
        extra = super().get_help_extra(ctx)
        value = self.resolve_envvar_value(ctx)
        if value is not None:
            extra["default"] = f"{value}, from {self.envvar}"
        return extra


url_option = click.option(
    "--url",
    cls=EnvDefaultOption,
    envvar="GATEWAY_URL",
    show_envvar=True,
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The running gateway.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def limit_options(fn: Any) -> Any:
    """Attach one option per limit (``--images-per-day``, ``--usd-per-day``, ...) to a
    command: whole numbers from 0 for counted limits; money limits (USD, decimals) and any
    other kind are passed as written, for the API to check."""
    hints = get_type_hints(Limits)
    for name in reversed(LIMIT_NAMES):
        counted = name not in MONEY_LIMITS and int in get_args(hints[name])
        described = LIMIT_DESCRIPTIONS[name]
        option = click.option(
            f"--{name.replace('_', '-')}",
            name,
            type=click.IntRange(min=0) if counted else click.STRING,
            help=described if counted else f"{described} (a decimal amount, e.g. 2.50)",
        )
        fn = option(fn)
    return fn


unlimited_option = click.option(
    "--unlimited",
    multiple=True,
    type=click.Choice(LIMIT_NAMES),
    help="Remove a limit (repeatable).",
)
