"""Journal contract: the request log and the audit log, newest first, filtered, paged by
cursor, bounded, exported by time. Runs on every implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.journal import AuditEntry, BadCursor, Journal, RequestEntry, RequestQuery
from gateway.store.redis_connect import connect
from gateway.store.redis_journal import RedisJournal
from gateway.store.sqlite_journal import SqliteJournal

T0 = 1_800_000_000.0
CAP = 50


@pytest.fixture(params=["embedded", "redis"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Journal]:
    the_journal: Journal
    if request.param == "embedded":
        the_journal = SqliteJournal(
            tmp_path / "journal.sqlite3", max_requests=CAP, audit_retention=3600
        )
    else:
        url = request.getfixturevalue("redis_url")
        the_journal = RedisJournal(
            connect(url, socket_timeout=1, connect_timeout=1),
            max_requests=CAP,
            audit_retention=3600,
            max_scan=40,
        )
    await the_journal.start()
    yield the_journal
    await the_journal.aclose()


def entry(n: int, **fields: object) -> RequestEntry:
    base: dict[str, object] = {
        "request_id": f"req_{n}",
        "created_at": T0 + n,
        "endpoint": "generations",
        "status": 200,
        "key_id": "key_a" if n % 2 else "key_b",
        "model": "flux/schnell",
        "images": 1,
        "cache": "MISS",
        "cost_usd": "0.003",
        "latency_ms": 12.5,
    }
    base.update(fields)
    return RequestEntry(**base)  # type: ignore[arg-type]


async def test_requests_come_back_newest_first_with_every_field(journal: Journal) -> None:
    await journal.append_requests(
        [entry(1), entry(2, status=429, error_code="rate_limit_exceeded")]
    )
    page = await journal.requests(RequestQuery())
    assert [e.request_id for e in page.entries] == ["req_2", "req_1"]
    assert page.next_before is None
    newest = page.entries[0]
    assert (newest.status, newest.error_code, newest.cost_usd) == (
        429,
        "rate_limit_exceeded",
        "0.003",
    )
    assert newest.id and "prompt" not in newest.to_dict()


async def test_filters_and_cursor_paging_see_each_match_once(journal: Journal) -> None:
    await journal.append_requests([entry(n, status=500 if n % 5 == 0 else 200) for n in range(30)])
    seen: list[str] = []
    before = None
    while True:
        page = await journal.requests(RequestQuery(key_id="key_a", limit=4, before=before))
        seen += [e.request_id for e in page.entries]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == [f"req_{n}" for n in range(29, -1, -1) if n % 2]
    errors = await journal.requests(RequestQuery(status="5xx"))
    assert [e.request_id for e in errors.entries] == [f"req_{n}" for n in (25, 20, 15, 10, 5, 0)]
    exact = await journal.requests(RequestQuery(status=500, model="other"))
    assert exact.entries == []
    both = await journal.requests(RequestQuery(status=500, key_id="key_a"))
    assert [e.request_id for e in both.entries] == ["req_25", "req_15", "req_5"]
    fine = await journal.requests(RequestQuery(status="2xx", key_id="key_b", limit=100))
    assert len(fine.entries) == 12


async def test_a_rare_filter_is_found_through_the_cursors_it_hands_back(
    journal: Journal,
) -> None:
    await journal.append_requests(
        [entry(n, key_id="key_rare" if n == 0 else "key_x") for n in range(50)]
    )
    found: list[str] = []
    before = None
    for _ in range(3):
        page = await journal.requests(RequestQuery(key_id="key_rare", before=before))
        found += [e.request_id for e in page.entries]
        if page.next_before is None:
            break
        before = page.next_before
    assert found == ["req_0"] and page.next_before is None


async def all_requests(journal: Journal) -> list[str]:
    seen: list[str] = []
    before = None
    while True:
        page = await journal.requests(RequestQuery(limit=100, before=before))
        seen += [e.request_id for e in page.entries]
        if page.next_before is None:
            return seen
        before = page.next_before


async def test_the_request_log_keeps_exactly_its_newest_entries(journal: Journal) -> None:
    for start in range(0, 400, 100):
        await journal.append_requests([entry(n) for n in range(start, start + 100)])
    assert await all_requests(journal) == [f"req_{n}" for n in range(399, 399 - CAP, -1)]
    await journal.append_requests([entry(400)])
    kept = await all_requests(journal)
    assert len(kept) == CAP and kept[0] == "req_400" and "req_350" not in kept
    batches = [b async for b in journal.export_requests(T0, T0 + 1000)]
    assert len([e for b in batches for e in b]) == CAP


async def test_a_cursor_it_never_handed_out_is_refused(journal: Journal) -> None:
    await journal.append_requests([entry(1)])
    for bad in ("", "abc", "1-2-3", "9" * 60, "-1"):
        with pytest.raises(BadCursor):
            await journal.requests(RequestQuery(before=bad or " "))
        with pytest.raises(BadCursor):
            await journal.audit(10, before=bad or " ")


async def test_every_field_and_a_prompt_round_trip(journal: Journal) -> None:
    full = entry(
        3,
        team_id="team_1",
        endpoint="edits",
        status=502,
        error_code="upstream_error",
        upstream_ms=1234.5,
        upstream_inference_id="8d3c-41aa",
        prompt="un phare \u00e0 l'aube \U0001f305",
        cost_usd="0.012345678",
    )
    await journal.append_requests([full])
    (back,) = (await journal.requests(RequestQuery(team_id="team_1"))).entries
    assert back.record() == full.record()
    batches = [b async for b in journal.export_requests(T0, T0 + 10)]
    assert [e.record() for b in batches for e in b] == [full.record()]


async def test_export_streams_a_time_range_oldest_first(journal: Journal) -> None:
    await journal.append_requests([entry(n) for n in range(10)])
    batches = [batch async for batch in journal.export_requests(T0 + 3, T0 + 7)]
    assert [e.request_id for batch in batches for e in batch] == [
        "req_3",
        "req_4",
        "req_5",
        "req_6",
    ]


async def test_audit_entries_page_newest_first_and_age_out(journal: Journal) -> None:
    for n in range(5):
        recorded = await journal.append_audit(
            AuditEntry(
                at=T0 + n,
                action="key.update",
                target_kind="key",
                target_id="key_1",
                target_name="app",
                actor="admin:ab12",
                changes={"rpm": [n, n + 1]},
                target_team_id="team_1",
            ),
            now=T0 + n,
        )
        assert recorded.id
    page = await journal.audit(limit=3)
    assert [e.changes["rpm"] for e in page.entries] == [[4, 5], [3, 4], [2, 3]]
    rest = await journal.audit(limit=3, before=page.next_before)
    assert [e.changes["rpm"] for e in rest.entries] == [[1, 2], [0, 1]] and rest.next_before is None
    assert page.entries[0].to_dict()["target"] == {
        "kind": "key",
        "id": "key_1",
        "name": "app",
        "team_id": "team_1",
    }
    await journal.append_audit(
        AuditEntry(T0 + 5000, "cache.purge", "cache", "all", None, "admin:ab12"), now=T0 + 5000
    )
    aged = await journal.audit(limit=10)
    assert [e.action for e in aged.entries] == ["cache.purge"]


async def test_an_entry_older_than_the_newest_is_still_kept(journal: Journal) -> None:
    await journal.append_requests([entry(10)])
    await journal.append_requests([entry(5), entry(11)])
    page = await journal.requests(RequestQuery())
    assert sorted(e.request_id for e in page.entries) == ["req_10", "req_11", "req_5"]
