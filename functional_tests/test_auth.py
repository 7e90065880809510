import httpx
from payloads import unique

from conftest import PASSWORD, login


def test_login_sets_a_hardened_session_cookie(base_url: str, admin: httpx.Client) -> None:
    name = unique("cookie")
    assert admin.post("/users", json={"username": name, "password": PASSWORD}).status_code == 201
    response = httpx.post(f"{base_url}/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"username": name, "is_admin": False}
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("session=")
    for attribute in ("httponly", "samesite=lax", "path=/"):
        assert attribute in cookie


def test_wrong_password_and_unknown_user_get_the_same_401(
    base_url: str, user: httpx.Client
) -> None:
    me = user.get("/auth/me").json()["username"]
    wrong = httpx.post(f"{base_url}/auth/login", json={"username": me, "password": "nope-nope"})
    unknown = httpx.post(
        f"{base_url}/auth/login", json={"username": unique("ghost"), "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_me_without_a_session_is_401(base_url: str) -> None:
    assert httpx.get(f"{base_url}/auth/me").status_code == 401
    assert httpx.get(f"{base_url}/auth/me", cookies={"session": "forged"}).status_code == 401


def test_logout_kills_the_session_on_the_server(base_url: str, admin: httpx.Client) -> None:
    name = unique("bye")
    admin.post("/users", json={"username": name, "password": PASSWORD})
    client = login(base_url, name, PASSWORD)
    token = client.cookies["session"]
    assert client.get("/auth/me").status_code == 200
    assert client.post("/auth/logout").status_code == 204
    # The old cookie, replayed by hand, is refused: the server forgot the session.
    assert httpx.get(f"{base_url}/auth/me", cookies={"session": token}).status_code == 401
    assert httpx.get(f"{base_url}/runs", cookies={"session": token}).status_code == 401


def test_five_failures_throttle_the_username_even_with_the_right_password(
    base_url: str, admin: httpx.Client
) -> None:
    name = unique("throttled")
    admin.post("/users", json={"username": name, "password": PASSWORD})
    for _ in range(5):
        wrong = httpx.post(
            f"{base_url}/auth/login", json={"username": name, "password": "bad-bad-bad"}
        )
        assert wrong.status_code == 401
    blocked = httpx.post(f"{base_url}/auth/login", json={"username": name, "password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert "detail" in blocked.json()
    # The throttle is per username: another user still logs in.
    other = unique("free")
    admin.post("/users", json={"username": other, "password": PASSWORD})
    assert login(base_url, other, PASSWORD).get("/auth/me").status_code == 200


def test_only_admins_create_users(base_url: str, admin: httpx.Client, user: httpx.Client) -> None:
    body = {"username": unique("new"), "password": PASSWORD}
    assert user.post("/users", json=body).status_code == 403
    assert httpx.post(f"{base_url}/users", json=body).status_code == 401
    created = admin.post("/users", json={**body, "is_admin": True})
    assert created.status_code == 201
    assert created.json() == {"username": body["username"], "is_admin": True}
    again = admin.post("/users", json=body)
    assert again.status_code == 409
    assert body["username"] in again.json()["detail"]


def test_user_validation(admin: httpx.Client) -> None:
    for bad in (
        {"username": "has space", "password": PASSWORD},
        {"username": "", "password": PASSWORD},
        {"username": "x" * 65, "password": PASSWORD},
        {"username": "ünï", "password": PASSWORD},
        {"username": unique("short"), "password": "1234567"},
    ):
        response = admin.post("/users", json=bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"]
    ok = admin.post(
        "/users", json={"username": "a.b_c@d-" + unique("e")[-6:], "password": "12345678"}
    )
    assert ok.status_code == 201
