"""Where and how to reach Redis, read from a ``redis://``, ``rediss://`` or ``unix://`` URL.

The store talks to Redis through two clients, redis-py and the pipelined one
(:mod:`gateway.store.resp`); both must reach the same server in the same way. So the URL is
parsed by redis-py's own ``parse_url`` and the TLS context is built by redis-py's own
``RedisSSLContext`` with the defaults of its ``SSLConnection`` (certificate and host name
checked). Options either client cannot honour are refused when the URL is read, with a
message naming the option (never the URL, which may hold a password).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from redis.asyncio.connection import RedisSSLContext, parse_url
from redis.exceptions import RedisError

TLS_OPTIONS = {
    "ssl_keyfile": "keyfile",
    "ssl_certfile": "certfile",
    "ssl_password": "password",
    "ssl_cert_reqs": "cert_reqs",
    "ssl_ca_certs": "ca_certs",
    "ssl_ca_data": "ca_data",
    "ssl_ca_path": "ca_path",
    "ssl_check_hostname": "check_hostname",
    "ssl_min_version": "min_version",
    "ssl_ciphers": "ciphers",
    "ssl_include_verify_flags": "include_verify_flags",
    "ssl_exclude_verify_flags": "exclude_verify_flags",
}
# Options of redis-py's pool and connections that concern only how redis-py manages its
# own sockets; the pipelined client has nothing to do for them.
POOL_OPTIONS = frozenset(
    {
        "max_connections",
        "health_check_interval",
        "retry_on_timeout",
        "socket_read_size",
        "lib_name",
        "lib_version",
    }
)
CONNECTION_OPTIONS = frozenset(
    {"db", "client_name", "socket_timeout", "socket_connect_timeout", "socket_keepalive"}
)
# Options that change what replies look like, which the store's code depends on.
REFUSED = {
    "decode_responses": "the store reads raw bytes",
    "protocol": "the store speaks RESP2",
    "legacy_responses": "the store reads redis-py's default replies",
    "timeout": "it applies to blocking pools only",
}
ADDRESS = frozenset({"host", "port", "path", "username", "password"})
DEFAULT_PORT = 6379


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed Redis URL: the address, the credentials and what to set up on connect."""

    host: str
    port: int
    path: str | None
    db: int
    username: str | None
    password: str | None
    tls: ssl.SSLContext | None
    client_name: str | None = None
    socket_timeout: float | None = None
    connect_timeout: float | None = None
    keepalive: bool = True

    @property
    def place(self) -> str:
        """Where Redis is, safe to log (no credentials)."""
        if self.path is not None:
            return f"unix:{self.path}"
        scheme = "rediss" if self.tls is not None else "redis"
        return f"{scheme}://{self.host}:{self.port}/{self.db}"

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """Parse ``url`` as redis-py does; ValueError (naming the option) if it is unusable."""
        try:
            options: dict[str, Any] = dict(parse_url(url))
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        options.pop("connection_class", None)
        tls_given = {name: options.pop(name) for name in list(options) if name in TLS_OPTIONS}
        for name in options:
            if name in REFUSED:
                raise ValueError(f"the option {name!r} is not supported: {REFUSED[name]}")
            if name not in POOL_OPTIONS | CONNECTION_OPTIONS | ADDRESS:
                raise ValueError(f"unknown option {name!r} in the Redis URL")
        secure = url.startswith("rediss://")
        if tls_given and not secure:
            raise ValueError(f"the option {next(iter(tls_given))!r} needs a rediss:// URL")
        path = options.get("path")
        if url.startswith("unix://") and not path:
            raise ValueError("a unix:// Redis URL needs the socket's path")
        return cls(
            host=str(options.get("host", "localhost")),
            port=int(options.get("port", DEFAULT_PORT)),
            path=path,
            db=_integer(options.get("db", 0), "db"),
            username=options.get("username"),
            password=options.get("password"),
            tls=_tls_context(tls_given) if secure else None,
            client_name=options.get("client_name"),
            socket_timeout=_seconds(options.get("socket_timeout"), "socket_timeout"),
            connect_timeout=_seconds(
                options.get("socket_connect_timeout"), "socket_connect_timeout"
            ),
            keepalive=options.get("socket_keepalive") is not False,
        )


def _tls_context(given: dict[str, Any]) -> ssl.SSLContext:
    """The context redis-py's ``SSLConnection`` would use for these options."""
    arguments = {TLS_OPTIONS[name]: value for name, value in given.items()}
    arguments.setdefault("cert_reqs", "required")
    arguments.setdefault("check_hostname", True)
    if arguments["check_hostname"] is None:
        arguments["check_hostname"] = True
    try:
        return RedisSSLContext(**arguments).get()
    except RedisError as exc:
        raise ValueError(f"ssl_cert_reqs: {exc}") from None
    except (OSError, ssl.SSLError, ValueError, TypeError) as exc:
        names = ", ".join(sorted(given)) or "TLS"
        raise ValueError(f"cannot set up TLS from {names}: {exc}") from None


def _integer(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid value for {name!r} in the Redis URL") from None
    if number < 0:
        raise ValueError(f"invalid value for {name!r} in the Redis URL")
    return number


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    seconds = float(value)
    if not seconds > 0:
        raise ValueError(f"{name} in the Redis URL must be a positive number of seconds")
    return seconds
