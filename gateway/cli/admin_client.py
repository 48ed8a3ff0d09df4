"""A small synchronous client of the admin API, used by the CLI."""

from __future__ import annotations

from typing import Any

import httpx


class AdminError(Exception):
    """The gateway answered an admin call with an error (its message is shown to the user)."""


class AdminClient:
    """Calls ``/admin/*`` on a running gateway with the admin token."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout,
            trust_env=False,
            headers={"authorization": f"Bearer {token}"},
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_error:
            message = None
            if isinstance(data, dict) and isinstance(data.get("error"), dict):
                message = data["error"].get("message")
            raise AdminError(f"{response.status_code}: {message or response.reason_phrase}")
        return data

    def create_key(self, body: dict[str, Any]) -> Any:
        """POST /admin/keys."""
        return self._request("POST", "/admin/keys", json=body)

    def list_keys(self) -> Any:
        """GET /admin/keys."""
        return self._request("GET", "/admin/keys")

    def get_key(self, key_id: str) -> Any:
        """GET /admin/keys/{id}."""
        return self._request("GET", f"/admin/keys/{key_id}")

    def update_key(self, key_id: str, body: dict[str, Any]) -> Any:
        """PATCH /admin/keys/{id}."""
        return self._request("PATCH", f"/admin/keys/{key_id}", json=body)

    def revoke_key(self, key_id: str) -> Any:
        """DELETE /admin/keys/{id}."""
        return self._request("DELETE", f"/admin/keys/{key_id}")

    def usage(self, key_id: str, days: int) -> Any:
        """GET /admin/keys/{id}/usage."""
        return self._request("GET", f"/admin/keys/{key_id}/usage", params={"days": days})

    def purge_cache(self, key_id: str | None) -> Any:
        """DELETE /admin/cache."""
        params = {"key_id": key_id} if key_id else {}
        return self._request("DELETE", "/admin/cache", params=params)

    def cache_stats(self) -> Any:
        """GET /admin/cache."""
        return self._request("GET", "/admin/cache")
