"""Client keys: format, hashing, authentication and admin changes."""

from __future__ import annotations

import asyncio
import base64
import string

import pytest

from gateway.errors import AuthenticationFailed, Conflict, InvalidRequest
from gateway.keys.material import (
    ID_FORMAT,
    KEY_PREFIX,
    generate_id,
    generate_key,
    hash_key,
    is_well_formed,
    mask,
)
from gateway.keys.service import KeyService
from gateway.settings.declared import DeclaredKey
from gateway.store.errors import StorageUnavailable
from gateway.store.memory import MemoryStore
from gateway.store.types import KeyRecord, Limits
from tests.keys.conftest import Clock


def test_keys_are_long_random_and_prefixed() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith(KEY_PREFIX) and len(k) >= 4 + 43 for k in keys)
    assert mask("gwk_abcdefghijkl") == "gwk_abcd****"


def test_well_formed_keys_are_exactly_what_generation_can_make() -> None:
    # 43 unpadded base64 characters hold 258 bits, of which a key's 32 bytes fill 256: the
    # last character is one whose two low bits are zero, as decoding and encoding again shows.
    body = generate_key()[len(KEY_PREFIX) : -1]
    alphabet = string.ascii_letters + string.digits + "-_"
    possible = {
        last
        for last in alphabet
        if base64.urlsafe_b64encode(base64.urlsafe_b64decode(body + last + "=")).decode()
        == body + last + "="
    }
    assert len(possible) == 16
    assert {last for last in alphabet if is_well_formed(KEY_PREFIX + body + last)} == possible
    assert all(is_well_formed(generate_key()) for _ in range(200))
    assert all(ID_FORMAT.fullmatch(generate_id()) for _ in range(20))


def test_hash_depends_on_secret() -> None:
    assert hash_key(b"a", "k") != hash_key(b"b", "k")
    assert len(hash_key(b"a", "k")) == 64


async def test_the_service_hashes_keys_as_gateway_keys_hash_prints_them(
    service: KeyService,
) -> None:
    for key in (generate_key(), generate_key(), "gwk_short"):
        assert service.hash(key) == hash_key(b"secret", key)


async def test_create_and_authenticate(service: KeyService) -> None:
    record, plaintext = await service.create("app", limits={"images_per_day": 5})
    assert record.limits == Limits(rpm=10, images_per_day=5)
    assert plaintext not in repr(record)
    assert (await service.authenticate(plaintext)).id == record.id


async def test_unknown_missing_and_revoked_keys_are_401(service: KeyService) -> None:
    with pytest.raises(AuthenticationFailed):
        await service.authenticate(None)
    with pytest.raises(AuthenticationFailed) as caught:
        await service.authenticate("gwk_wrongwrongwrongwrong")
    assert "gwk_wron****" in caught.value.message
    record, plaintext = await service.create("app")
    await service.authenticate(plaintext)
    await service.revoke(record.id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await service.authenticate(plaintext)


async def test_cached_record_is_reused_until_it_expires(service: KeyService, clock: Clock) -> None:
    record, plaintext = await service.create("app")
    await service.authenticate(plaintext)
    other = KeyService(service._store, b"secret", clock)
    await other.revoke(record.id)
    assert (await service.authenticate(plaintext)).id == record.id
    clock.now += 3
    with pytest.raises(AuthenticationFailed):
        await service.authenticate(plaintext)
    with pytest.raises(AuthenticationFailed):
        await other.authenticate(plaintext, fresh=True)


async def test_expiry_and_disable(service: KeyService, clock: Clock) -> None:
    record, plaintext = await service.create("app", expires_at=clock.now + 10)
    await service.authenticate(plaintext)
    clock.now += 11
    with pytest.raises(AuthenticationFailed, match="expired"):
        await service.authenticate(plaintext)
    record, plaintext = await service.create("app2")
    updated = await service.update(record.id, {"disabled": True})
    assert updated.version == record.version + 1
    with pytest.raises(AuthenticationFailed, match="disabled"):
        await service.authenticate(plaintext)


async def test_update_merges_limits(service: KeyService) -> None:
    record, _ = await service.create("app")
    updated = await service.update(record.id, {"limits": {"images_per_month": 50}})
    assert updated.limits == Limits(rpm=10, images_per_month=50)
    await service.revoke(record.id)
    with pytest.raises(Conflict):
        await service.update(record.id, {"name": "x"})


async def test_declared_keys_are_synced(service: KeyService) -> None:
    secret_key = generate_key()
    spec = DeclaredKey.model_validate(
        {"id": "ci", "name": "CI", "key_hash": service.hash(secret_key), "images_per_day": 3}
    )
    await service.sync_declared([spec])
    record = await service.authenticate(secret_key)
    assert record.declared and record.limits.images_per_day == 3
    await service.sync_declared([spec.model_copy(update={"images_per_day": 4})])
    assert (await service.get("ci")).limits.images_per_day == 4
    with pytest.raises(InvalidRequest):
        await service.sync_declared([spec.model_copy(update={"key_hash": "0" * 64})])


class GatedStore(MemoryStore):
    """A store whose key reads wait for ``opened`` and are counted (or fail)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(None, cache_max_bytes=1000, clock=clock)
        self.opened = asyncio.Event()
        self.reads = 0
        self.fail = False

    async def find_key(self, key_hash: str) -> KeyRecord | None:
        self.reads += 1
        await self.opened.wait()
        if self.fail:
            raise StorageUnavailable("down")
        return await super().find_key(key_hash)


@pytest.fixture
async def gated(clock: Clock) -> tuple[KeyService, GatedStore, str]:
    store = GatedStore(clock)
    await store.start()
    service = KeyService(store, b"secret", clock, cache_seconds=2)
    _, plaintext = await service.create("busy")
    return service, store, plaintext


async def test_concurrent_lookups_of_one_key_read_the_store_once(
    gated: tuple[KeyService, GatedStore, str],
) -> None:
    service, store, plaintext = gated
    waiters = [asyncio.create_task(service.authenticate(plaintext)) for _ in range(50)]
    await asyncio.sleep(0)
    store.opened.set()
    records = await asyncio.gather(*waiters)
    assert store.reads == 1
    assert {r.name for r in records} == {"busy"}


async def test_a_failed_shared_lookup_fails_every_waiter_and_the_next_one_retries(
    gated: tuple[KeyService, GatedStore, str],
) -> None:
    service, store, plaintext = gated
    store.fail = True
    waiters = [asyncio.create_task(service.authenticate(plaintext)) for _ in range(5)]
    await asyncio.sleep(0)
    store.opened.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, StorageUnavailable) for o in outcomes)
    store.fail = False
    assert (await service.authenticate(plaintext)).name == "busy"
    assert store.reads == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_lookup(
    gated: tuple[KeyService, GatedStore, str],
) -> None:
    service, store, plaintext = gated
    first = asyncio.create_task(service.authenticate(plaintext))
    second = asyncio.create_task(service.authenticate(plaintext))
    await asyncio.sleep(0)
    first.cancel()
    store.opened.set()
    assert (await second).name == "busy"
    assert first.cancelled()
    assert store.reads == 1


async def test_a_fresh_lookup_does_not_join_a_read_in_flight(
    gated: tuple[KeyService, GatedStore, str],
) -> None:
    service, store, plaintext = gated
    shared = asyncio.create_task(service.authenticate(plaintext))
    fresh = asyncio.create_task(service.authenticate(plaintext, fresh=True))
    await asyncio.sleep(0)
    store.opened.set()
    await asyncio.gather(shared, fresh)
    assert store.reads == 2
