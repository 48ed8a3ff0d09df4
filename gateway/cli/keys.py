"""``gateway keys ...``: client keys, through the running gateway's admin API."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import click

from gateway.cli.common import (
    call,
    connect,
    emit,
    fail,
    given_limits,
    json_option,
    key_id_of,
    limit_options,
    model_list,
    team_id_of,
    unlimited_option,
    url_option,
)
from gateway.cli.tables import key_table

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(\d+)([smhd]?)")


class Duration(click.ParamType[int]):
    """A length of time as whole seconds: ``90``, ``30s``, ``15m``, ``1h`` or ``2d``."""

    name = "duration"
    help = "--grace takes seconds or a number with s, m, h or d (30s, 15m, 1h, 2d)."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        found = DURATION.fullmatch(str(value).strip().lower())
        if found is None:
            self.fail(f"{value!r} is not a duration such as 30s, 15m, 1h or 2d", param, ctx)
        return int(found[1]) * UNITS[found[2] or "s"]


def format_duration(seconds: int) -> str:
    """``seconds`` in the largest unit that divides it (``3600`` is ``1h``)."""
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


key_argument = click.argument("key", metavar="KEY")
KEY_HELP = "KEY is a key's id, or its name where no other key has it."


@click.group()
def keys() -> None:
    """Manage client keys through the running gateway's admin API."""


@keys.command("create")
@click.option("--name", required=True, help="A name for people (and for the CLI to find it).")
@click.option("--expires-at", help="Unix seconds or ISO 8601 (e.g. 2027-01-01T00:00:00Z).")
@click.option("--models", help="Comma-separated allow-list of models.")
@click.option("--no-cache", is_flag=True, help="Never serve this key from the cache.")
@click.option("--team", help="Put the key in this team (its id, or its unique name).")
@limit_options
@url_option
@json_option
def keys_create(
    name: str,
    expires_at: str | None,
    models: str | None,
    no_cache: bool,
    team: str | None,
    url: str,
    as_json: bool,
    **limits: Any,
) -> None:
    """Create a key and print it (it is shown only this once)."""
    body: dict[str, Any] = {"name": name, **given_limits(limits)}
    if expires_at is not None:
        body["expires_at"] = float(expires_at) if _is_number(expires_at) else expires_at
    if models is not None:
        body["models"] = model_list(models)
    if no_cache:
        body["cache"] = False
    client = connect(url)
    if team is not None:
        body["team_id"] = team_id_of(client, team)
    created = call(client.create_key, body)
    emit(
        created,
        as_json,
        key_table([created]) + f"\n\nkey: {created['key']}\nStore it now: it is not shown again.",
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@keys.command("list")
@url_option
@json_option
def keys_list(url: str, as_json: bool) -> None:
    """List every key."""
    listed = call(connect(url).list_keys)
    emit(listed, as_json, key_table(listed["data"]))


@keys.command("show", epilog=KEY_HELP)
@key_argument
@url_option
@json_option
def keys_show(key: str, url: str, as_json: bool) -> None:
    """Show one key."""
    record = call(connect(url).find_key, key)
    emit(record, as_json, key_table([record]))


@keys.command("update", epilog=KEY_HELP)
@key_argument
@click.option("--name", help="A new name.")
@click.option("--expires-at", help="Unix seconds or ISO 8601; 'never' removes the expiry.")
@click.option("--models", help="Comma-separated allow-list; 'all' removes the list.")
@click.option(
    "--disable/--enable", "disabled", default=None, help="Refuse the key, or accept it again."
)
@click.option(
    "--cache/--no-cache", "cache", default=None, help="Serve this key from the cache, or never."
)
@click.option("--team", help="Move the key to this team (id or unique name); 'none': no team.")
@unlimited_option
@limit_options
@url_option
@json_option
def keys_update(
    key: str,
    name: str | None,
    expires_at: str | None,
    models: str | None,
    disabled: bool | None,
    cache: bool | None,
    team: str | None,
    unlimited: Sequence[str],
    url: str,
    as_json: bool,
    **limits: Any,
) -> None:
    """Change a key's name, expiry, models, limits, cache, team or enabled state."""
    body: dict[str, Any] = given_limits(limits)
    body.update(dict.fromkeys(unlimited))
    if name is not None:
        body["name"] = name
    if expires_at is not None:
        body["expires_at"] = (
            None
            if expires_at in ("", "never")
            else float(expires_at)
            if _is_number(expires_at)
            else expires_at
        )
    if models is not None:
        body["models"] = None if models == "all" else model_list(models)
    if disabled is not None:
        body["disabled"] = disabled
    if cache is not None:
        body["cache"] = cache
    client = connect(url)
    if team is not None:
        body["team_id"] = None if team == "none" else team_id_of(client, team)
    record = call(client.update_key, key_id_of(client, key), body)
    emit(record, as_json, key_table([record]))


@keys.command("revoke", epilog=KEY_HELP)
@key_argument
@url_option
@json_option
def keys_revoke(key: str, url: str, as_json: bool) -> None:
    """Revoke a key: refused from the next request on, everywhere."""
    client = connect(url)
    record = call(client.revoke_key, key_id_of(client, key))
    emit(record, as_json, key_table([record]))


@keys.command("rotate", epilog=KEY_HELP + " " + Duration.help)
@key_argument
@click.option(
    "--grace",
    type=Duration(),
    default="0s",
    show_default=True,
    help="How long the old key keeps working (at most 7d).",
)
@url_option
@json_option
def keys_rotate(key: str, grace: int, url: str, as_json: bool) -> None:
    """Give a key a new secret and print it (shown only this once); the key keeps its id,
    name, limits, team and usage. The old secret works for --grace more, on every replica."""
    client = connect(url)
    rotated = call(client.rotate_key, key_id_of(client, key), grace)
    until = f"for {format_duration(grace)} more" if grace else "no more: it is refused from now on"
    emit(
        rotated,
        as_json,
        key_table([rotated]) + f"\n\nkey: {rotated['key']}\nStore it now: it is not shown "
        f"again. The old key works {until}.",
    )


@keys.command("hash")
@click.argument("key", required=False)
def keys_hash(key: str | None) -> None:
    """Print a new key (or hash KEY) for declaring it in the config file by hash.

    Needs GATEWAY_KEY_SECRET, the secret the gateway hashes keys with. KEY must be a key
    as `gateway keys create` makes them (gwk_ and 43 characters).
    """
    from gateway.keys.material import generate_key, hash_key, is_well_formed
    from gateway.settings.model import check_key_secret

    secret = os.environ.get("GATEWAY_KEY_SECRET")
    if not secret:
        fail("set GATEWAY_KEY_SECRET (the same value the gateway uses) to hash keys")
    try:
        check_key_secret(secret)
    except ValueError as exc:
        fail(f"invalid setting GATEWAY_KEY_SECRET: {exc}", 2)
    if key is not None and not is_well_formed(key):
        fail("not a gateway key: a key is gwk_ followed by 43 URL-safe characters", 2)
    if key is None:
        key = generate_key()
        click.echo(f"key:      {key}")
    click.echo(f"key_hash: {hash_key(secret.encode(), key)}")
