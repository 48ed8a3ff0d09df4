"""Changing a key or a team in the embedded store, durably.

Each change is checked against the records in memory first
(:mod:`gateway.store.embedded.records`: a conflict or a missing team is refused before
anything is written), then written by the database's writer thread, and applied to memory
only once the database holds it; the write is finished even when its caller gives up
(:mod:`gateway.store.embedded.writes`). A key written into a team holds the team
meanwhile, and a team being deleted is held until its delete is written, so that the two
cannot cross.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.store.embedded.database import Database
from gateway.store.embedded.records import Records
from gateway.store.embedded.writes import Writes
from gateway.store.errors import StorageNotFound
from gateway.store.types import KeyRecord, TeamRecord


class RecordChanges:
    """The key and team writes of :class:`~gateway.store.memory.MemoryStore`, on its
    ``records``, ``db`` and ``writes``."""

    def __init__(self, records: Records, db: Database, writes: Writes) -> None:
        self._records = records
        self._db = db
        self._writes = writes

    async def insert_key(self, record: KeyRecord) -> None:
        self._records.check_insert(record)
        await self._write_key(self._db.insert_key, record)

    async def update_key(self, record: KeyRecord) -> None:
        self._records.check_update(record)
        await self._write_key(self._db.update_key, record)

    async def _write_key(self, job: Callable[[KeyRecord], None], record: KeyRecord) -> None:
        """Write a checked key change durably, holding the team it joins meanwhile."""
        records = self._records
        team = records.joins(record)

        async def store() -> None:
            try:
                await self._writes.run(job, record)
                records.remember(record)
            finally:
                records.joined(team)

        await self._writes.durably(store())

    async def rotate_key(self, record: KeyRecord) -> None:
        self._records.check_rotate(record)

        async def store() -> None:
            await self._writes.run(self._db.update_key, record)
            self._records.remember(record)

        await self._writes.durably(store())

    async def insert_team(self, record: TeamRecord) -> None:
        self._records.check_new_team(record)

        async def store() -> None:
            await self._writes.run(self._db.insert_team, record)
            self._records.teams[record.id] = record

        await self._writes.durably(store())

    async def update_team(self, record: TeamRecord) -> None:
        if not self._records.team_exists(record.id):
            raise StorageNotFound(f"No team with id {record.id!r}.")
        teams = self._records.teams

        async def store() -> None:
            await self._writes.run(self._db.update_team, record)
            if record.id in teams:
                teams[record.id] = record

        await self._writes.durably(store())

    async def delete_team(self, team_id: str) -> None:
        records = self._records
        records.leaving(team_id)

        async def store() -> None:
            deleted = False
            try:
                await self._writes.run(self._db.delete_team, team_id)
                deleted = True
            finally:
                records.left(team_id, deleted)

        await self._writes.durably(store())
