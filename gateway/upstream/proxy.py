"""Which proxy carries the calls to an origin: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``
and ``NO_PROXY``, read as httpx and curl read them.

The variables come from :func:`urllib.request.getproxies_environment`, as httpx reads them
on Linux (lower-case names win over upper-case ones), and the scheme's own variable wins
over ``ALL_PROXY``. ``NO_PROXY`` entries follow httpx's reading of curl's rules: ``*``
bypasses every proxy; ``example.com`` covers the domain and its subdomains, ``.example.com``
only the subdomains; an IP address or ``localhost`` only itself; an entry may carry a port
(``api.test:8443``) or a scheme (``http://api.test``). A network (``10.0.0.0/8``) covers
the IP addresses in it, as curl reads it. Only ``http://`` proxies are spoken (a CONNECT tunnel for
https origins, absolute-form requests for http ones); any other proxy scheme is refused at
start-up with the variable's name rather than ignored, since a gateway that must egress
through a proxy would otherwise fail every call without saying why.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import urllib.request
from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: where it listens and the ``Proxy-Authorization`` value, if any."""

    host: str
    port: int
    authorization: bytes | None = None


@dataclass(frozen=True, slots=True)
class _Bypass:
    """One ``NO_PROXY`` entry, parsed."""

    scheme: str | None
    host: str
    port: int | None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    exact: bool

    def covers(self, scheme: str, host: str, port: int) -> bool:
        """Whether this entry sends ``scheme://host:port`` direct (``host`` in lower case)."""
        if self.scheme is not None and self.scheme != scheme:
            return False
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(host) in self.network
            except ValueError:
                return False
        if self.exact:
            return host == self.host
        return host.endswith(self.host) and (
            self.host.startswith(".")
            or len(host) == len(self.host)
            or host[-len(self.host) - 1] == "."
        )


def _bypass(entry: str) -> _Bypass:
    """Parse one ``NO_PROXY`` entry (``[scheme://]host[:port]`` or a network)."""
    scheme = None
    if "://" in entry:
        scheme, _, entry = entry.partition("://")
    port = None
    host = entry.lower()
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = int(rest[1:]) if rest[1:].isdigit() else None
    elif host.count(":") == 1:
        name, _, number = host.partition(":")
        if number.isdigit():
            host, port = name, int(number)
    if host.startswith("*."):
        host = host[1:]
    network = None
    exact = host == "localhost"
    with contextlib.suppress(ValueError):
        if "/" in host:
            network = ipaddress.ip_network(host, strict=False)
        else:
            ipaddress.ip_address(host)
            exact = True
    return _Bypass(scheme, host, port, network, exact)


class ProxyRules:
    """The proxy for each origin, per the environment read once at start-up."""

    def __init__(self, proxies: dict[str, Proxy], no_proxy: str) -> None:
        self._proxies = proxies
        self._bypasses = [_bypass(e.strip()) for e in no_proxy.split(",") if e.strip()]

    def proxy_for(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for ``scheme://host:port``, or None to connect directly."""
        proxy = self._proxies.get(scheme) or self._proxies.get("all")
        if proxy is None:
            return None
        host = host.lower().strip("[]")
        if any(bypass.covers(scheme, host, port) for bypass in self._bypasses):
            return None
        return proxy


def _variable(scheme: str) -> str:
    return f"{scheme.upper()}_PROXY"


def _parse(scheme: str, value: str) -> Proxy:
    """A proxy URL as httpx reads it (``host:port`` alone means ``http://host:port``)."""
    name = _variable(scheme)
    try:
        url = httpx.URL(value if "://" in value else f"http://{value}")
    except httpx.InvalidURL:
        raise ValueError(f"{name} is not a valid proxy URL") from None
    if url.scheme != "http":
        raise ValueError(
            f"{name}: {url.scheme}:// proxies are not supported; use an http:// proxy "
            f"(https origins go through it in a CONNECT tunnel) or unset {name}"
        )
    if not url.host:
        raise ValueError(f"{name} names no proxy host")
    authorization = None
    if url.username or url.password:
        credentials = f"{url.username}:{url.password}".encode()
        authorization = b"Basic " + base64.b64encode(credentials)
    return Proxy(url.host, url.port or 80, authorization)


def environment_proxies() -> ProxyRules | None:
    """The proxy rules of the environment; None when no proxy variable is set.

    Raises ValueError naming the variable when a proxy cannot be used (the message never
    contains the proxy URL, which may hold a password).
    """
    environment = urllib.request.getproxies_environment()
    proxies = {
        scheme: _parse(scheme, environment[scheme])
        for scheme in ("http", "https", "all")
        if environment.get(scheme)
    }
    no_proxy = environment.get("no", "")
    if not proxies or "*" in (entry.strip() for entry in no_proxy.split(",")):
        return None
    return ProxyRules(proxies, no_proxy)
