"""API tokens for machine clients: made with a password login, sent as a Bearer header,
scoped (read: GET only; write: also the owner's runs), listed without the secret, revoked
at once, optionally expiring, and never enough for an admin route."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from payloads import bearer


def test_a_token_reads_and_writes_as_its_user_until_revoked(
    base_url: str, user: httpx.Client
) -> None:
    made = user.post("/auth/tokens", json={"name": "cpu-monitor", "scope": "write"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["token"].startswith("lw_") and len(body["token"]) > 40
    assert body["name"] == "cpu-monitor" and body["expires_at"] is None
    assert body["scope"] == "write"
    me = user.get("/auth/me").json()["username"]

    with bearer(base_url, body["token"]) as machine:
        assert machine.get("/auth/me").json()["username"] == me
        run = machine.post("/runs", json={"name": "from a token"})
        assert run.status_code == 201 and run.json()["owner"] == me
        # The token is never shown again.
        listed = machine.get("/auth/tokens").json()
        assert [t["id"] for t in listed] == [body["id"]]
        assert "token" not in listed[0]
        assert listed[0]["created_at"] == body["created_at"]  # as stored, to the millisecond
        # A token cannot make or revoke tokens: that takes a password login. Nor does it
        # pass for one when sent as the session cookie.
        assert machine.post("/auth/tokens", json={"name": "more"}).status_code == 401
        assert machine.delete(f"/auth/tokens/{body['id']}").status_code == 401
        with httpx.Client(
            base_url=base_url, cookies={"loadwatch_session": body["token"]}
        ) as forged:
            assert forged.post("/auth/tokens", json={"name": "more"}).status_code == 401
            assert forged.get("/auth/me").status_code == 401

        assert user.delete(f"/auth/tokens/{body['id']}").status_code == 204
        refused = machine.get("/auth/me")
        assert refused.status_code == 401
        assert "token" in refused.json()["detail"]
    assert user.delete(f"/auth/tokens/{body['id']}").status_code == 404


def test_a_read_token_only_reads(base_url: str, user: httpx.Client) -> None:
    made = user.post("/auth/tokens", json={"name": "dashboards"}).json()
    assert made["scope"] == "read"  # the default: the least a token may do
    run = user.post("/runs", json={"name": "read me"}).json()
    with bearer(base_url, made["token"]) as reader:
        assert reader.get(f"/runs/{run['id']}").status_code == 200
        assert reader.get(f"/runs/{run['id']}/samples").status_code == 200
        for method, path, body in [
            ("POST", "/runs", {"name": "no"}),
            ("PATCH", f"/runs/{run['id']}", {"status": "finished"}),
            ("POST", f"/runs/{run['id']}/samples", {"samples": []}),
            ("POST", f"/runs/{run['id']}/events", {"events": []}),
            ("DELETE", f"/runs/{run['id']}", None),
        ]:
            refused = reader.request(method, path, json=body)
            assert refused.status_code == 403, (method, path)
            assert "read" in refused.json()["detail"]
    assert user.get(f"/runs/{run['id']}").json()["status"] == "running"


def test_no_token_reaches_an_admin_route(base_url: str, admin: httpx.Client) -> None:
    someone_else = admin.post("/runs", json={"name": "the admin's own"}).json()
    for scope in ("read", "write"):
        made = admin.post("/auth/tokens", json={"name": f"admin {scope}", "scope": scope}).json()
        with bearer(base_url, made["token"]) as machine:
            new_user = {"username": f"via-token-{scope}", "password": "long-enough-pass-1"}
            refused = machine.post("/users", json={**new_user, "is_admin": True})
            assert refused.status_code == 403
            assert machine.get("/events/rejected").status_code == 403
            assert "password login" in machine.get("/events/rejected").json()["detail"]
            assert machine.post("/auth/tokens", json={"name": "more"}).status_code == 401
        admin.delete(f"/auth/tokens/{made['id']}")
    assert admin.get(f"/runs/{someone_else['id']}").status_code == 200


def test_a_write_token_writes_its_owners_runs_only(
    base_url: str, user: httpx.Client, admin: httpx.Client
) -> None:
    theirs = user.post("/runs", json={"name": "a user's run"}).json()
    made = admin.post("/auth/tokens", json={"name": "admin writer", "scope": "write"}).json()
    with bearer(base_url, made["token"]) as writer:
        # Even an admin's write token acts as a plain user: another's run is not found.
        assert writer.get(f"/runs/{theirs['id']}").status_code == 404
        assert writer.delete(f"/runs/{theirs['id']}").status_code == 404
        mine = writer.post("/runs", json={"name": "the token's"})
        assert mine.status_code == 201
    admin.delete(f"/auth/tokens/{made['id']}")
    assert user.get(f"/runs/{theirs['id']}").status_code == 200


def test_a_token_with_an_expiry_says_when(user: httpx.Client) -> None:
    made = user.post("/auth/tokens", json={"name": "ci", "expires_in_days": 30}).json()
    expires = datetime.fromisoformat(made["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)


def test_another_users_token_cannot_be_revoked(user: httpx.Client, admin: httpx.Client) -> None:
    made = user.post("/auth/tokens", json={"name": "mine"}).json()
    assert admin.delete(f"/auth/tokens/{made['id']}").status_code == 404
    assert [t["id"] for t in user.get("/auth/tokens").json()] == [made["id"]]


@pytest.mark.parametrize(
    "header",
    ["Bearer lw_not-a-real-token", "Bearer", "Basic YWRtaW46YWRtaW4="],
)
def test_a_bad_authorization_header_is_401_even_with_a_cookie(
    base_url: str, admin: httpx.Client, header: str
) -> None:
    # An explicit credential that fails is refused, not silently replaced by the cookie.
    response = admin.get("/auth/me", headers={"Authorization": header})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ci", "expires_in_days": 0},
        {"name": "ci", "expires_in_days": 3651},
        {"name": "ci", "expires_in_days": "30"},
        {"name": "ci", "scope": "all"},
    ],
)
def test_bad_token_requests_are_422(user: httpx.Client, body: dict[str, object]) -> None:
    assert user.post("/auth/tokens", json=body).status_code == 422


def test_a_user_may_hold_at_most_100_tokens_even_in_a_burst(
    make_user: Callable[..., httpx.Client],
) -> None:
    """150 token creates at once: 100 are made, 50 get 409 naming the cap. Revoking one
    makes room for one more."""
    client = make_user()
    cookies, base = client.cookies, str(client.base_url)

    def create(i: int) -> httpx.Response:
        return httpx.post(
            f"{base}/auth/tokens",
            json={"name": f"burst-{i}", "scope": "read"},
            cookies=cookies,
            timeout=60,
        )

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(create, range(150)))
    made = [a.json()["id"] for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 409]
    assert (len(made), len(refused)) == (100, 50)
    assert "at most 100 tokens" in refused[0].json()["detail"]
    assert len(client.get("/auth/tokens").json()) == 100
    assert client.delete(f"/auth/tokens/{made[0]}").status_code == 204
    assert create(150).status_code == 201
    assert create(151).status_code == 409
