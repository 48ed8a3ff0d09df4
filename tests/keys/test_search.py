"""Key search and paging: filters, a stable order, cursors that survive changes (the store
index itself is in tests/store/test_key_index.py, on both stores)."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.keys.search import STATUSES, KeyQuery, status_of
from gateway.keys.service import KeyService
from tests.keys.conftest import Clock


async def create_in_order(service: KeyService, clock: Clock, names: list[str]) -> None:
    """Keys with these names, a second apart."""
    for name in names:
        clock.now += 1
        await service.create(name)


async def pages(service: KeyService, query: KeyQuery) -> list[list[str]]:
    """Every page of ``query``, following ``next_after`` to the end."""
    found: list[list[str]] = []
    after = None
    while True:
        page = await service.search(
            KeyQuery(limit=query.limit, after=after, q=query.q, status=query.status)
        )
        found.append([r.name for r in page.records])
        if not page.has_more:
            assert page.next_after is None
            return found
        assert page.next_after == page.records[-1].id
        after = page.next_after


async def test_pages_cover_every_key_once_in_creation_order(
    service: KeyService, clock: Clock
) -> None:
    await create_in_order(service, clock, [f"app-{i}" for i in range(7)])
    assert await pages(service, KeyQuery(limit=3)) == [
        ["app-0", "app-1", "app-2"],
        ["app-3", "app-4", "app-5"],
        ["app-6"],
    ]
    everything = await service.search(KeyQuery())
    assert [r.name for r in everything.records] == [f"app-{i}" for i in range(7)]
    assert not everything.has_more and everything.next_after is None


async def test_q_is_a_case_insensitive_prefix_of_the_name_in_name_order(
    service: KeyService, clock: Clock
) -> None:
    await create_in_order(service, clock, ["Mobile-iOS", "mobile-android", "web", "the mobile one"])
    page = await service.search(KeyQuery(q="MOBILE"))
    assert [r.name for r in page.records] == ["mobile-android", "Mobile-iOS"]
    assert await pages(service, KeyQuery(limit=1, q="mob")) == [["mobile-android"], ["Mobile-iOS"]]
    assert (await service.search(KeyQuery(q="nothing"))).records == []


async def test_status_filter_tells_expired_from_disabled_and_revoked(
    service: KeyService, clock: Clock
) -> None:
    await service.create("live")
    expiring, _ = await service.create("expiring", expires_at=clock.now + 10)
    off, _ = await service.create("off")
    gone, _ = await service.create("gone")
    await service.update(off.id, {"disabled": True})
    await service.revoke(gone.id)
    clock.now += 11
    by_status = {
        status: [r.name for r in (await service.search(KeyQuery(status=status))).records]
        for status in STATUSES
    }
    assert by_status == {
        "active": ["live"],
        "disabled": ["off"],
        "expired": ["expiring"],
        "revoked": ["gone"],
    }
    assert status_of(expiring, clock.now) == "expired"


async def test_a_cursor_holds_when_keys_change_between_pages(
    service: KeyService, clock: Clock
) -> None:
    await create_in_order(service, clock, [f"app-{i}" for i in range(4)])
    first = await service.search(KeyQuery(limit=2))
    assert [r.name for r in first.records] == ["app-0", "app-1"]
    await service.revoke(first.records[0].id)
    await service.update(first.records[1].id, {"name": "zz-renamed"})
    clock.now += 1
    await service.create("app-new")
    rest = await service.search(KeyQuery(limit=10, after=first.next_after))
    assert [r.name for r in rest.records] == ["app-2", "app-3", "app-new"]


async def test_an_unknown_cursor_is_a_400_naming_after(service: KeyService) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await service.search(KeyQuery(after="key_missing"))
    assert caught.value.param == "after"
