"""A small synchronous client of the admin API, used by the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx


class AdminError(Exception):
    """An admin call failed; its message is the one line shown to the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminClient:
    """Calls ``/admin/*`` on a running gateway with the admin token."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            trust_env=False,
            headers={"authorization": f"Bearer {token}"},
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise AdminError(f"cannot reach the gateway at {self.url}: {reason}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_error:
            message = None
            if isinstance(data, dict) and isinstance(data.get("error"), dict):
                message = data["error"].get("message")
            raise AdminError(
                f"{response.status_code}: {message or response.reason_phrase}",
                response.status_code,
            )
        return data

    def create_key(self, body: dict[str, Any]) -> Any:
        """POST /admin/keys."""
        return self._request("POST", "/admin/keys", json=body)

    def list_keys(self) -> Any:
        """GET /admin/keys."""
        return self._request("GET", "/admin/keys")

    def get_key(self, key_id: str) -> Any:
        """GET /admin/keys/{id}."""
        return self._request("GET", f"/admin/keys/{_segment(key_id)}")

    def find_key(self, ref: str) -> Any:
        """The key whose id is ``ref`` or, failing that, the one named ``ref``.

        A name shared by several keys is refused unless only one of them is not revoked
        (a key rotated under the same name).
        """
        return _find("key", ref, self.get_key, lambda: self.list_keys()["data"])

    def find_team(self, ref: str) -> Any:
        """The team whose id is ``ref`` or, failing that, the one named ``ref`` (a name
        shared by several teams is refused)."""
        return _find("team", ref, self.get_team, lambda: self.list_teams()["data"])

    def update_key(self, key_id: str, body: dict[str, Any]) -> Any:
        """PATCH /admin/keys/{id}."""
        return self._request("PATCH", f"/admin/keys/{_segment(key_id)}", json=body)

    def revoke_key(self, key_id: str) -> Any:
        """DELETE /admin/keys/{id}."""
        return self._request("DELETE", f"/admin/keys/{_segment(key_id)}")

    def rotate_key(self, key_id: str, grace_seconds: int) -> Any:
        """POST /admin/keys/{id}/rotate."""
        return self._request(
            "POST",
            f"/admin/keys/{_segment(key_id)}/rotate",
            json={"grace_seconds": grace_seconds},
        )

    def usage(self, key_id: str, days: int) -> Any:
        """GET /admin/keys/{id}/usage."""
        return self._request("GET", f"/admin/keys/{_segment(key_id)}/usage", params={"days": days})

    def create_team(self, body: dict[str, Any]) -> Any:
        """POST /admin/teams."""
        return self._request("POST", "/admin/teams", json=body)

    def list_teams(self) -> Any:
        """GET /admin/teams."""
        return self._request("GET", "/admin/teams")

    def get_team(self, team_id: str) -> Any:
        """GET /admin/teams/{id}."""
        return self._request("GET", f"/admin/teams/{_segment(team_id)}")

    def update_team(self, team_id: str, body: dict[str, Any]) -> Any:
        """PATCH /admin/teams/{id}."""
        return self._request("PATCH", f"/admin/teams/{_segment(team_id)}", json=body)

    def delete_team(self, team_id: str) -> Any:
        """DELETE /admin/teams/{id}."""
        return self._request("DELETE", f"/admin/teams/{_segment(team_id)}")

    def team_usage(self, team_id: str, days: int) -> Any:
        """GET /admin/teams/{id}/usage."""
        return self._request(
            "GET", f"/admin/teams/{_segment(team_id)}/usage", params={"days": days}
        )

    def purge_cache(self, key_id: str | None) -> Any:
        """DELETE /admin/cache."""
        params = {"key_id": key_id} if key_id else {}
        return self._request("DELETE", "/admin/cache", params=params)

    def cache_stats(self) -> Any:
        """GET /admin/cache."""
        return self._request("GET", "/admin/cache")


def _find(kind: str, ref: str, get: Callable[[str], Any], listed: Callable[[], Any]) -> Any:
    """The record whose id is ``ref``, else the one named ``ref``; of several with that
    name, the one not revoked."""
    try:
        return get(ref)
    except AdminError as exc:
        if exc.status != 404:
            raise
    named = [item for item in listed() if item["name"] == ref]
    if len(named) > 1:
        named = [item for item in named if not item.get("revoked")] or named
    if not named:
        raise AdminError(f"no {kind} has the id or name {ref!r}", 404)
    if len(named) > 1:
        ids = ", ".join(item["id"] for item in named)
        raise AdminError(f"{len(named)} {kind}s are named {ref!r} ({ids}): give the id")
    return named[0]


def _segment(text: str) -> str:
    """``text`` as one path segment (a name may hold ``/`` or spaces)."""
    return quote(text, safe="")
