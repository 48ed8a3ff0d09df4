"""The ``gateway`` console script: serve, manage keys and the cache, build and show the model
registry, run the fake upstream."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import httpx

from gateway.cli.common import (
    EnvDefaultOption,
    call,
    connect,
    emit,
    fail,
    json_option,
    key_id_of,
    team_id_of,
    url_option,
)
from gateway.cli.keys import KEY_HELP, keys
from gateway.cli.logs import audit_command, requests_command
from gateway.cli.prices import prices
from gateway.cli.tables import usage_table
from gateway.cli.teams import teams
from gateway.limits.usage import MAX_DAYS
from gateway.models.files import RegistryError


@click.group()
@click.version_option(package_name="imagegw", prog_name="gateway")
def main() -> None:
    """An OpenAI-compatible gateway for image generation APIs."""


@main.command()
@click.option("--host", help="Interface to listen on (GATEWAY_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (GATEWAY_PORT, default 8080).")
@click.option("--workers", type=int, help="Processes (GATEWAY_WORKERS); >1 needs Redis.")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the gateway."""
    import logging

    import uvicorn

    from gateway.observability.clock import system_clock
    from gateway.observability.logs import configure_logging
    from gateway.settings.errors import SettingsError
    from gateway.settings.loading import load_settings, unknown_variables
    from gateway.store.errors import StorageError
    from gateway.store.memory import MemoryStore
    from gateway.web.app import _secrets, create_app
    from gateway.web.wiring import embedded_store

    overrides = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    try:
        settings = load_settings(**overrides)
        configure_logging(settings.log_level, _secrets(settings))
        for warning in unknown_variables(os.environ):
            logging.getLogger("gateway").warning(warning)
        store: MemoryStore | None = None
        if settings.redis_url is None:
            # Opened here, before uvicorn: a store path another gateway holds, or a
            # database that cannot be read, is one line and exit 2, not a failed lifespan.
            store = embedded_store(settings, system_clock)
            store.open()
        app = create_app(settings, store=store)
    except StorageError as exc:
        fail(f"cannot open the embedded store (GATEWAY_STORE_PATH): {exc.message}", 2)
    except (SettingsError, RegistryError) as exc:
        fail(str(exc), 2)
    except ValueError as exc:
        fail(f"invalid settings: {exc}", 2)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 30,
        "server_header": False,
        "proxy_headers": False,
    }
    if settings.workers == 1:
        uvicorn.run(app, **common)
        return
    for name, value in overrides.items():
        os.environ[f"GATEWAY_{name.upper()}"] = str(value)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")
    uvicorn.run(
        "gateway.web.app:create_app_from_env", factory=True, workers=settings.workers, **common
    )


@main.command("fake-upstream")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9000, show_default=True, type=int, help="Port (0: any free port).")
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    default=["test-upstream-key"],
    show_default=True,
    help="Accepted upstream key (repeatable).",
)
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=float,
    help="Seconds to wait before answering.",
)
def fake_upstream(host: str, port: int, api_keys: Sequence[str], latency: float) -> None:
    """Run a fake AI/ML API for trials, tests and benchmarks."""
    import socket

    import uvicorn

    from gateway.testing.fake_upstream import create_fake_upstream

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    bound = sock.getsockname()[1]
    url = f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
    click.echo(f"fake AI/ML API listening on {url}")
    click.echo(f"point the gateway at it: GATEWAY_UPSTREAM_URL={url}")
    config = uvicorn.Config(
        create_fake_upstream(list(api_keys), latency=latency),
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


@main.command("usage", epilog=KEY_HELP)
@click.argument("key", metavar="[KEY]", required=False)
@click.option("--team", help="A team's usage instead (its id, or its unique name).")
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=click.IntRange(1, MAX_DAYS),
    help="Days of history, newest first.",
)
@url_option
@json_option
def usage_cmd(key: str | None, team: str | None, days: int, url: str, as_json: bool) -> None:
    """Show a key's (or with --team, a team's) usage: daily counters, spend and what is
    left of each limit and budget."""
    if (key is None) == (team is None):
        fail("name a KEY, or a team with --team")
    client = connect(url)
    if team is not None:
        report = call(client.team_usage, team_id_of(client, team), days)
    else:
        assert key is not None
        report = call(client.usage, key_id_of(client, key), days)
    emit(report, as_json, usage_table(report))


main.add_command(keys)
main.add_command(teams)


@main.group()
def cache() -> None:
    """Inspect and purge the response cache."""


@cache.command("purge")
@click.option(
    "--key", "key", help="Only this key's entries, by id or unique name (per-key cache scope)."
)
@url_option
@json_option
def cache_purge(key: str | None, url: str, as_json: bool) -> None:
    """Delete cached answers."""
    client = connect(url)
    result = call(client.purge_cache, key_id_of(client, key) if key is not None else None)
    emit(result, as_json, f"deleted {result['deleted']} cached answer(s)")


@cache.command("stats")
@url_option
@json_option
def cache_stats(url: str, as_json: bool) -> None:
    """How many answers and bytes the cache holds."""
    result = call(connect(url).cache_stats)
    emit(result, as_json, f"entries: {result['entries']}\nbytes:   {result['bytes']}")


@main.group()
def models() -> None:
    """Build, sync and show the model registry."""


@models.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Registry file to write (default: standard output).",
)
def models_import(path: Path, output: Path | None) -> None:
    """Registry data from AIML's documents: a catalogue file or a folder of OpenAPI files.

    `gateway models import gateway/testing/data/aiml-catalog.json -o
    gateway/models/data/models.json` is how the built-in registry is made. What was merged
    or ignored is reported on standard error.
    """
    from gateway.models.catalogue import CatalogueError, operations_from_path
    from gateway.models.importer import dump, import_operations
    from gateway.models.registry import check_data
    from gateway.models.sync import write_atomically

    try:
        ops, notes, origin = operations_from_path(path)
        result = import_operations(ops, origin=origin, notes=notes)
        check_data(str(path), result.data)
    except (CatalogueError, RegistryError) as exc:
        fail(str(exc), 2)
    for line in result.report:
        click.echo(line, err=True)
    data = dump(result.data)
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        write_atomically(output, data)
        click.echo(f"wrote {len(result.models)} models to {output}", err=True)


@models.command("sync")
@click.option(
    "--upstream",
    cls=EnvDefaultOption,
    envvar="GATEWAY_UPSTREAM_URL",
    show_envvar=True,
    default="https://api.aimlapi.com",
    show_default=True,
    help="The upstream whose live catalogue to read.",
)
@click.option(
    "--output",
    "-o",
    envvar="GATEWAY_MODELS_FILE",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The operator registry file to write (GATEWAY_MODELS_FILE), JSON.",
)
@click.option("--force", is_flag=True, help="Fetch even when the catalogue's ETag is unchanged.")
def models_sync(upstream: str, output: Path, force: bool) -> None:
    """The upstream's live catalogue (GET /v1/models and each model's docs) into a registry
    file that the gateway loads over its built-in one."""
    import datetime

    from gateway.models.sync import SyncError, sync_catalogue

    if output.suffix == ".toml":
        fail(f"{output}: models sync writes JSON; name a .json file", 2)
    key = os.environ.get("GATEWAY_UPSTREAM_API_KEY") or None
    try:
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0)) as http:
            outcome = sync_catalogue(
                http,
                upstream,
                output,
                api_key=key,
                force=force,
                now=lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            )
    except (SyncError, RegistryError) as exc:
        fail(str(exc), 1)
    for line in outcome.report:
        click.echo(line)


@models.command("list")
@click.option(
    "--file",
    "models_file",
    envvar="GATEWAY_MODELS_FILE",
    help="Operator registry file loaded over the built-in one (GATEWAY_MODELS_FILE).",
)
@json_option
@click.option("--markdown", is_flag=True, help="The README's model table, in Markdown.")
def models_list(models_file: str | None, as_json: bool, markdown: bool) -> None:
    """The models the gateway loads: ids, aliases, family, what n and size become."""
    from gateway.models import table
    from gateway.models.registry import Registry

    try:
        registry = Registry.load(Path(models_file) if models_file else None)
    except RegistryError as exc:
        fail(str(exc), 2)
    if markdown:
        click.echo(table.markdown(registry), nl=False)
        return
    emit(table.as_json(registry), as_json, table.plain(registry))


main.add_command(requests_command)
main.add_command(audit_command)
main.add_command(prices)
