"""``gateway teams ...``: teams of keys, through the running gateway's admin API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from gateway.cli.common import (
    call,
    connect,
    emit,
    given_limits,
    json_option,
    limit_options,
    model_list,
    team_id_of,
    unlimited_option,
    url_option,
)
from gateway.cli.tables import team_table

team_argument = click.argument("team", metavar="TEAM")
TEAM_HELP = "TEAM is a team's id, or its name where no other team has it."


@click.group()
def teams() -> None:
    """Manage teams: keys that share limits, USD budgets and a model allow-list."""


@teams.command("create")
@click.option("--name", required=True, help="A name for people (and for the CLI to find it).")
@click.option("--models", help="Comma-separated models the team's keys may use.")
@limit_options
@url_option
@json_option
def teams_create(name: str, models: str | None, url: str, as_json: bool, **limits: Any) -> None:
    """Create a team; put keys in it with `gateway keys create|update --team`."""
    body: dict[str, Any] = {"name": name, **given_limits(limits)}
    if models is not None:
        body["models"] = model_list(models)
    created = call(connect(url).create_team, body)
    emit(created, as_json, team_table([created]))


@teams.command("list")
@url_option
@json_option
def teams_list(url: str, as_json: bool) -> None:
    """List every team."""
    listed = call(connect(url).list_teams)
    emit(listed, as_json, team_table(listed["data"]))


@teams.command("show", epilog=TEAM_HELP)
@team_argument
@url_option
@json_option
def teams_show(team: str, url: str, as_json: bool) -> None:
    """Show one team."""
    record = call(connect(url).find_team, team)
    emit(record, as_json, team_table([record]))


@teams.command("update", epilog=TEAM_HELP)
@team_argument
@click.option("--name", help="A new name.")
@click.option("--models", help="Comma-separated allow-list; 'all' removes the list.")
@click.option(
    "--disable/--enable",
    "disabled",
    default=None,
    help="Refuse every key of the team, or accept them again.",
)
@unlimited_option
@limit_options
@url_option
@json_option
def teams_update(
    team: str,
    name: str | None,
    models: str | None,
    disabled: bool | None,
    unlimited: Sequence[str],
    url: str,
    as_json: bool,
    **limits: Any,
) -> None:
    """Change a team's name, models, limits, budgets or enabled state."""
    body: dict[str, Any] = given_limits(limits)
    body.update(dict.fromkeys(unlimited))
    if name is not None:
        body["name"] = name
    if models is not None:
        body["models"] = None if models == "all" else model_list(models)
    if disabled is not None:
        body["disabled"] = disabled
    client = connect(url)
    record = call(client.update_team, team_id_of(client, team), body)
    emit(record, as_json, team_table([record]))


@teams.command("delete", epilog=TEAM_HELP)
@team_argument
@url_option
@json_option
def teams_delete(team: str, url: str, as_json: bool) -> None:
    """Delete a team (refused while keys that are not revoked are in it)."""
    client = connect(url)
    record = call(client.delete_team, team_id_of(client, team))
    emit(record, as_json, f"deleted team {record['id']} ({record['name']})")
