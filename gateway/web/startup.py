"""What the gateway tells its operator as it starts: what it runs, and what looks wrong.

One info line names the upstream, the store, the admin API and the models; warnings follow
for configurations that start but cannot serve (no upstream key). Nothing secret is shown:
URLs lose their credentials and query strings.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from gateway.models.registry import Registry
from gateway.settings.errors import SettingsError
from gateway.settings.model import Settings

log = logging.getLogger("gateway")


def public_url(url: str) -> str:
    """``url`` without user, password or query (a Redis URL may carry its password in
    either); a unix socket URL keeps its path."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def store_place(settings: Settings) -> tuple[str, str]:
    """The store's kind and where its data lives."""
    if settings.redis_url is not None:
        return "redis", public_url(settings.redis_url.get_secret_value())
    return "embedded", str(settings.store_path.absolute())


def announce(settings: Settings, registry: Registry) -> None:
    """Log what this gateway serves with, once it is ready to serve."""
    kind, place = store_place(settings)
    upstream = public_url(settings.upstream_url)
    admin = "on" if settings.admin_token is not None else "off"
    models = len(registry.models())
    log.info(
        f"gateway ready: upstream {upstream}, {kind} store at {place}, admin API {admin}, "
        f"{models} models",
        extra={
            "fields": {
                "upstream_url": upstream,
                "store": kind,
                "store_place": place,
                "admin_api": admin,
                "models": models,
            }
        },
    )
    if not settings.upstream_keys:
        log.warning(
            "GATEWAY_UPSTREAM_API_KEY is not set: the upstream will refuse every image "
            "request (answered 502 upstream_auth_failed)"
        )


def check_declared_models(settings: Settings, registry: Registry) -> None:
    """Refuse to start when a declared key's allow-list names a model the gateway does not
    serve (the admin API refuses the same with a 400)."""
    if registry.allows_unknown:
        return
    for index, declared in enumerate(settings.keys):
        for model in declared.models or ():
            if registry.get(model) is None:
                raise SettingsError(
                    f"invalid setting keys[{index}].models (key {declared.id!r}): "
                    f"unknown model {model!r}"
                )
