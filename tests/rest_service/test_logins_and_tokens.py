"""What the functional tests can't see over HTTP: hashing, token storage, expiry, the loop."""

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta

import bcrypt
import httpx
import pytest

from rest_service import security
from rest_service.settings import Settings
from rest_service.storage.models import LoginSlot, Session, User
from tests.conftest import ADMIN, login


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sessions in this module last 1 s, so expiry can be seen."""
    return settings.model_copy(update={"session_ttl_seconds": 1})


async def test_passwords_are_stored_as_bcrypt_hashes(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/users", json={"username": "carol", "password": "s3cret-pass"}
    )
    assert response.status_code == 201
    user = await User.get("carol")
    assert user is not None
    assert user.password_hash.startswith("$2b$04$")
    assert bcrypt.checkpw(b"s3cret-pass", user.password_hash.encode())


async def test_only_the_token_hash_is_stored(client: httpx.AsyncClient) -> None:
    response = await login(client, *ADMIN)
    token = response.cookies["loadwatch_session"]
    assert len(token) >= 43  # token_urlsafe(32)
    sessions = await Session.find_all().to_list()
    assert [s.id for s in sessions] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in s.model_dump_json() for s in sessions)


async def test_unknown_user_still_costs_one_bcrypt_check(
    client: httpx.AsyncClient, bcrypt_checks: list[bytes]
) -> None:
    calls = bcrypt_checks
    assert (await login(client, "nobody-here", "whatever1")).status_code == 401
    assert (await login(client, ADMIN[0], "wrong-password")).status_code == 401
    assert len(calls) == 2


async def test_bcrypt_runs_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bcrypt.checkpw

    def slow(password: bytes, hashed: bytes) -> bool:
        time.sleep(1.0)  # a blocking call, as bcrypt is
        return real(password, hashed)

    monkeypatch.setattr(security.bcrypt, "checkpw", slow)
    logins = [asyncio.create_task(login(client, *ADMIN)) for _ in range(4)]
    await asyncio.sleep(0.05)
    health = await client.get("/healthz")
    # Had bcrypt run on the loop, /healthz could only answer after the logins.
    assert health.status_code == 200
    assert not any(task.done() for task in logins)
    assert [r.status_code for r in await asyncio.gather(*logins)] == [200] * 4


async def test_an_expired_session_is_refused(client: httpx.AsyncClient) -> None:
    assert (await login(client, *ADMIN)).status_code == 200
    assert (await client.get("/auth/me")).status_code == 200
    await asyncio.sleep(1.2)
    assert (await client.get("/auth/me")).status_code == 401


async def test_throttle_forgets_failures_older_than_15_minutes(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await login(client, ADMIN[0], "wrong-password")).status_code == 401
    throttled = await login(client, *ADMIN)
    assert throttled.status_code == 429
    assert 890 <= int(throttled.headers["retry-after"]) <= 901
    # Age the failures past the window: the right password works again.
    gone = datetime.now(UTC) - timedelta(minutes=1)
    slots = LoginSlot.get_motor_collection()
    aged = await slots.update_many({"failed": True}, {"$set": {"expires_at": gone}})
    assert aged.modified_count == 10  # 5 for the account from this address, 5 for the address
    assert (await login(client, *ADMIN)).status_code == 200


async def test_a_success_clears_earlier_failures(client: httpx.AsyncClient) -> None:
    for _ in range(4):
        await login(client, ADMIN[0], "wrong-password")
    assert (await login(client, *ADMIN)).status_code == 200
    for _ in range(4):
        assert (await login(client, ADMIN[0], "wrong-password")).status_code == 401
    assert (await login(client, *ADMIN)).status_code == 200


async def test_overlong_password_is_a_401_not_a_crash(client: httpx.AsyncClient) -> None:
    assert (await login(client, ADMIN[0], "é" * 100)).status_code == 401
