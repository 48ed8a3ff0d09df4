"""Audit entries are written at once when the journal answers, and kept, logged and retried
in order when it does not."""

from __future__ import annotations

import logging

import pytest

from gateway.observability.audit_trail import AuditTrail
from gateway.store.journal import AuditEntry
from tests.observability.test_recorder import ListJournal, wait_for


def change(n: int) -> AuditEntry:
    return AuditEntry(float(n), "key.update", "key", f"key_{n}", "app", "admin:ab12cd34")


async def test_an_entry_is_written_before_record_returns() -> None:
    journal = ListJournal()
    trail = AuditTrail(journal, lambda: 100.0)
    assert await trail.record(change(1)) is True
    assert journal.audits == [change(1)]


async def test_while_the_journal_fails_entries_wait_in_order_and_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = ListJournal()
    journal.fail = True
    deferred: list[int] = []
    trail = AuditTrail(
        journal, lambda: 100.0, retry_interval=0.01, on_deferred=lambda: deferred.append(1)
    )
    trail.start()
    with caplog.at_level(logging.WARNING, logger="gateway.audit"):
        assert await trail.record(change(1)) is False
        journal.fail = False
        assert await trail.record(change(2)) is False
    assert len(deferred) == 2
    unwritten = [r for r in caplog.records if r.getMessage() == "audit entry not yet written"]
    assert [r.fields["target"]["id"] for r in unwritten] == ["key_1", "key_2"]  # type: ignore[attr-defined]
    await wait_for(lambda: trail.pending == 0)
    assert journal.audits == [change(1), change(2)]
    assert await trail.record(change(3)) is True
    await trail.aclose()


async def test_shutdown_gives_waiting_entries_one_last_attempt() -> None:
    journal = ListJournal()
    journal.fail = True
    trail = AuditTrail(journal, lambda: 100.0, retry_interval=3600)
    trail.start()
    await trail.record(change(1))
    journal.fail = False
    await trail.aclose()
    assert journal.audits == [change(1)]
