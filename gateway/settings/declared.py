"""Client keys declared in the config file by their hash: the ``[[keys]]`` tables.

Declarative deployments keep their keys in the file instead of creating them through the
admin API; the key service puts them in the store at every start-up
(:class:`gateway.keys.service.KeyService`).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from gateway.settings.limits import LimitFields, limits_of
from gateway.store.types import LIMIT_NAMES, Limits


class DeclaredKey(LimitFields):
    """A client key declared in the config file by its hash (declarative deployments).

    ``key_hash`` is what ``gateway keys hash`` prints for the secret under the configured
    ``GATEWAY_KEY_SECRET``. A field it does not know is refused (a typo would otherwise
    leave a limit unset).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    models: list[str] | None = None
    expires_at: float | None = None
    cache: bool = True

    @property
    def limits(self) -> Limits:
        """The key's limits as the stores take them."""
        return Limits(**limits_of({name: getattr(self, name) for name in LIMIT_NAMES}))
