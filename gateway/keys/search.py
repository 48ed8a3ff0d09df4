"""Key search and paging: which keys match a query, in a stable order, one page at a time.

Without ``q`` keys come in creation order (``created_at``, then id), oldest first; with
``q`` (a name prefix, any case) in name order (the name ignoring case, then id). A page's
cursor is the id of its last key: the next page holds the keys after that one in the
order. The store answers from an index of its own (:mod:`gateway.store.key_search`), so a
page costs the same at 100,000 keys as at ten.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.key_search import STATUSES, KeyPage, Status, key_status

__all__ = ["MAX_PAGE", "MAX_UNPAGED", "STATUSES", "KeyPage", "KeyQuery", "Status", "status_of"]

MAX_PAGE = 1000
MAX_UNPAGED = 10_000
status_of = key_status


@dataclass(frozen=True, slots=True)
class KeyQuery:
    """What ``GET /admin/keys`` asks for.

    ``q`` matches the start of the name, ignoring case; ``after`` is the id of the last key
    of the previous page. ``limit`` is at most :data:`MAX_PAGE` for a page, and a listing
    without paging parameters holds up to :data:`MAX_UNPAGED` keys.
    """

    limit: int = MAX_UNPAGED
    after: str | None = None
    q: str | None = None
    team_id: str | None = None
    status: Status | None = None
