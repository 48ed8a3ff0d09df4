"""A small synchronous client of the admin API, used by the CLI.

Commands take a key or a team by id or by unique name. A name is never tried as an id
first: ``GET /admin/keys/<name>`` would answer 404, which the gateway logs and counts as a
failed request. Only an argument shaped like a generated id is asked for by id; any other
is searched among the names (the key search's name index, ``q``), and only when no key
has that name is it tried as the id of a key declared in the config file (whose ids the
operator chooses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from gateway.keys.material import ID_FORMAT as KEY_ID_FORMAT
from gateway.keys.search import MAX_PAGE
from gateway.teams.service import ID_FORMAT as TEAM_ID_FORMAT
from gateway.web.admin_queries import MAX_TEXT


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

    def keys_named(self, name: str) -> list[Any]:
        """The keys named exactly ``name``. The search by name prefix (``q``, case
        ignored) answers in name order, where the exact matches come first, so it reads
        pages only until a longer name shows up."""
        if len(name) > MAX_TEXT:
            return [key for key in self.list_keys()["data"] if key["name"] == name]
        named: list[Any] = []
        params: dict[str, Any] = {"q": name, "limit": MAX_PAGE}
        while True:
            page = self._request("GET", "/admin/keys", params=params)
            data = page["data"]
            named += [key for key in data if key["name"] == name]
            if not page.get("has_more") or not data:
                return named
            if data[-1]["name"].casefold() != name.casefold():
                return named
            params["after"] = page["next_after"]

    def find_key(self, ref: str) -> Any:
        """The key whose generated id is ``ref``, else the one named ``ref``, else the
        declared key with that id.

        A name shared by several keys is refused unless only one of them is not revoked
        (a key rotated under the same name).
        """
        generated = KEY_ID_FORMAT.fullmatch(ref) is not None
        return _find(
            "key", ref, self.get_key, self.keys_named, id_first=generated, id_last=not generated
        )

    def find_team(self, ref: str) -> Any:
        """The team whose id is ``ref``, else the one named ``ref`` (a name shared by
        several teams is refused). Every team id has the generated form."""
        generated = TEAM_ID_FORMAT.fullmatch(ref) is not None
        return _find(
            "team", ref, self.get_team, self.teams_named, id_first=generated, id_last=False
        )

    def teams_named(self, name: str) -> list[Any]:
        """The teams named exactly ``name`` (teams are few: one listing)."""
        return [team for team in self.list_teams()["data"] if team["name"] == name]

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


def _find(
    kind: str,
    ref: str,
    get: Callable[[str], Any],
    named: Callable[[str], list[Any]],
    *,
    id_first: bool,
    id_last: bool,
) -> Any:
    """The record whose id is ``ref`` (asked for before the names with ``id_first``, after
    them with ``id_last``), else the one named ``ref``; of several with that name, the one
    not revoked."""
    if id_first and (found := _get(get, ref)) is not None:
        return found
    matches = named(ref)
    if len(matches) > 1:
        matches = [item for item in matches if not item.get("revoked")] or matches
    if len(matches) > 1:
        oldest_first = sorted(matches, key=lambda item: (item.get("created_at") or 0, item["id"]))
        ids = ", ".join(item["id"] for item in oldest_first)
        raise AdminError(f"{len(matches)} {kind}s are named {ref!r} ({ids}): give the id")
    if matches:
        return matches[0]
    if id_last and (found := _get(get, ref)) is not None:
        return found
    raise AdminError(f"no {kind} has the id or name {ref!r}", 404)


def _get(get: Callable[[str], Any], ref: str) -> Any:
    """``get(ref)``, or None when there is no such record."""
    try:
        return get(ref)
    except AdminError as exc:
        if exc.status != 404:
            raise
        return None


def _segment(text: str) -> str:
    """``text`` as one path segment (a name may hold ``/`` or spaces)."""
    return quote(text, safe="")
