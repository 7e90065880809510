from concurrent.futures import ThreadPoolExecutor

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
    assert cookie.startswith("loadwatch_session=")
    for attribute in ("httponly", "samesite=lax", "path=/"):
        assert attribute in cookie
    # The cookie of old, named "session" as the Locust master's was, is refused.
    token = response.cookies["loadwatch_session"]
    assert httpx.get(f"{base_url}/auth/me", cookies={"session": token}).status_code == 401
    assert httpx.get(f"{base_url}/auth/me", cookies=response.cookies).status_code == 200


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
    assert (
        httpx.get(f"{base_url}/auth/me", cookies={"loadwatch_session": "forged"}).status_code == 401
    )


def test_logout_kills_the_session_on_the_server(base_url: str, admin: httpx.Client) -> None:
    name = unique("bye")
    admin.post("/users", json={"username": name, "password": PASSWORD})
    client = login(base_url, name, PASSWORD)
    token = client.cookies["loadwatch_session"]
    assert client.get("/auth/me").status_code == 200
    assert client.post("/auth/logout").status_code == 204
    # The old cookie, replayed by hand, is refused: the server forgot the session.
    assert httpx.get(f"{base_url}/auth/me", cookies={"loadwatch_session": token}).status_code == 401
    assert httpx.get(f"{base_url}/runs", cookies={"loadwatch_session": token}).status_code == 401


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


def test_parallel_guesses_reach_at_most_five_password_checks(
    base_url: str, admin: httpx.Client
) -> None:
    """40 wrong guesses at once at one account: each 401 is a password that was checked,
    each 429 one that was not. The limit holds on every server the service runs on."""
    name = unique("guessed")
    admin.post("/users", json={"username": name, "password": PASSWORD})

    def guess(i: int) -> int:
        body = {"username": name, "password": f"wrong-guess-{i}"}
        return httpx.post(f"{base_url}/auth/login", json=body, timeout=60).status_code

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(guess, range(40)))
    assert set(answers) <= {401, 429}
    assert 1 <= answers.count(401) <= 5
    again = httpx.post(f"{base_url}/auth/login", json={"username": name, "password": PASSWORD})
    assert again.status_code == 429


def test_fifty_simultaneous_correct_logins_all_succeed(base_url: str, admin: httpx.Client) -> None:
    """How a load test logs its users in: one account, one address, all at once. Beyond the
    limit they wait for a free slot; none is refused."""
    name = unique("suite")
    admin.post("/users", json={"username": name, "password": PASSWORD})

    def log_in(_: int) -> int:
        body = {"username": name, "password": PASSWORD}
        return httpx.post(f"{base_url}/auth/login", json=body, timeout=60).status_code

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(log_in, range(50)))
    assert answers == [200] * 50
