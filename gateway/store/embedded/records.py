"""The embedded store's key and team records as held in memory, and the rules of changing them.

Every read of a key or a team is served from here; a change is checked here before the
database writes it (a conflict or a missing team is refused before anything is written)
and applied here once it is durable. Keys are found by the hash of their secret, and during
a rotation's grace also by the previous secret's hash, until the grace ends on the store's
clock. A team that a key write is joining, or that is being deleted, is held so that the
two cannot cross: :meth:`Records.joins` and :meth:`Records.leaving`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gateway.store.embedded.key_index import KeyIndex
from gateway.store.errors import StorageConflict, StorageNotFound
from gateway.store.types import KeyRecord, TeamRecord


def hashes(record: KeyRecord) -> tuple[str, ...]:
    """The hashes that find ``record``: its secret's, and during a rotation's grace its
    previous secret's."""
    if record.previous_hash is None:
        return (record.key_hash,)
    return (record.key_hash, record.previous_hash)


class Records:
    """Keys (by id, by hash, in the search index) and teams, in memory."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.keys: dict[str, KeyRecord] = {}
        self.teams: dict[str, TeamRecord] = {}
        self.index = KeyIndex()
        self._by_hash: dict[str, str] = {}
        self._joining: dict[str, int] = {}
        self._leaving: set[str] = set()

    def load(self, keys: Iterable[KeyRecord], teams: Iterable[TeamRecord]) -> None:
        """Start from what the database holds."""
        loaded = list(keys)
        self.keys = {record.id: record for record in loaded}
        self._by_hash = {digest: record.id for record in loaded for digest in hashes(record)}
        self.index.load(loaded)
        self.teams = {record.id: record for record in teams}

    def remember(self, record: KeyRecord) -> None:
        """A key write that is now durable."""
        old = self.keys.get(record.id)
        kept = hashes(record)
        for digest in hashes(old) if old is not None else ():
            if digest not in kept:
                self._by_hash.pop(digest, None)
        self.keys[record.id] = record
        for digest in kept:
            self._by_hash[digest] = record.id
        self.index.put(old, record)

    def in_grace(self, record: KeyRecord) -> bool:
        """True while a rotated key's previous secret still works."""
        return record.previous_until is not None and self._clock() < record.previous_until

    def find(self, key_hash: str) -> KeyRecord | None:
        """The key whose secret (or previous secret, within its grace) hashes so."""
        key_id = self._by_hash.get(key_hash)
        record = self.keys.get(key_id) if key_id else None
        if record is None or record.key_hash == key_hash:
            return record
        return record if record.previous_hash == key_hash and self.in_grace(record) else None

    def forget_ended_graces(self) -> None:
        """Drop the previous hashes whose grace has ended (the periodic prune)."""
        for record in self.keys.values():
            if record.previous_hash is not None and not self.in_grace(record):
                self._by_hash.pop(record.previous_hash, None)

    def check_insert(self, record: KeyRecord) -> None:
        if record.id in self.keys or record.key_hash in self._by_hash:
            raise StorageConflict(f"A key with id {record.id!r} or the same secret exists.")

    def check_update(self, record: KeyRecord) -> None:
        if record.id not in self.keys:
            raise StorageNotFound(f"No key with id {record.id!r}.")
        if self._by_hash.get(record.key_hash, record.id) != record.id:
            raise StorageConflict("Another key has the same secret.")

    def check_rotate(self, record: KeyRecord) -> None:
        stored = self.keys.get(record.id)
        if stored is None:
            raise StorageNotFound(f"No key with id {record.id!r}.")
        if stored.version != record.version - 1 or record.key_hash in self._by_hash:
            raise StorageConflict(f"Key {record.id!r} changed while it was being rotated.")

    def joins(self, record: KeyRecord) -> str | None:
        """The team a live key is written into, checked to exist (and not be on its way
        out) before the write; the write then holds it until :meth:`joined` (a team delete
        waits for no one: it refuses while a key write into the team is in flight)."""
        team = record.team_id
        if team is None or record.revoked_at is not None:
            return None
        if team not in self.teams or team in self._leaving:
            raise StorageNotFound(f"No team with id {team!r}.")
        self._joining[team] = self._joining.get(team, 0) + 1
        return team

    def joined(self, team: str | None) -> None:
        if team is not None:
            left = self._joining[team] - 1
            if left:
                self._joining[team] = left
            else:
                del self._joining[team]

    def team_exists(self, team_id: str) -> bool:
        """A team that is there and not being deleted."""
        return team_id in self.teams and team_id not in self._leaving

    def check_new_team(self, record: TeamRecord) -> None:
        if record.id in self.teams or record.id in self._leaving:
            raise StorageConflict(f"A team with id {record.id!r} exists.")

    def leaving(self, team_id: str) -> None:
        """Hold a team for its deletion (refused while it has live keys or one joining)."""
        if not self.team_exists(team_id):
            raise StorageNotFound(f"No team with id {team_id!r}.")
        live = any(r.team_id == team_id and r.revoked_at is None for r in self.keys.values())
        if live or team_id in self._joining:
            raise StorageConflict(f"Team {team_id!r} still has keys that are not revoked.")
        self._leaving.add(team_id)

    def left(self, team_id: str, deleted: bool) -> None:
        if deleted:
            self.teams.pop(team_id, None)
        self._leaving.discard(team_id)
