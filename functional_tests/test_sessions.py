"""Sessions a user controls: listed, ended one by one or all but this one, ended by a
password change (API tokens stay) or by the admin."""

import httpx
from payloads import unique

from conftest import PASSWORD, login


def new_user(admin: httpx.Client) -> str:
    name = unique("sess")
    assert admin.post("/users", json={"username": name, "password": PASSWORD}).status_code == 201
    return name


def test_a_user_lists_and_ends_their_sessions(base_url: str, admin: httpx.Client) -> None:
    name = new_user(admin)
    laptop, phone, tablet = (login(base_url, name, PASSWORD) for _ in range(3))
    listed = laptop.get("/auth/sessions")
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 3
    assert [s["current"] for s in sessions].count(True) == 1
    for session in sessions:
        assert set(session) == {"id", "created_at", "last_used_at", "address", "current"}
        assert session["address"] and session["created_at"]
    # No token, and no hash of one, is ever shown.
    token = laptop.cookies["loadwatch_session"]
    assert token not in listed.text

    # End the phone's session by its id: the phone is logged out, the others are not.
    phone_id = next(s["id"] for s in phone.get("/auth/sessions").json() if s["current"])
    assert laptop.delete(f"/auth/sessions/{phone_id}").status_code == 204
    assert phone.get("/auth/me").status_code == 401
    assert laptop.get("/auth/me").status_code == 200
    assert laptop.delete(f"/auth/sessions/{phone_id}").status_code == 404
    # Another user's session cannot be ended, nor seen.
    stranger = login(base_url, new_user(admin), PASSWORD)
    laptop_id = next(s["id"] for s in laptop.get("/auth/sessions").json() if s["current"])
    assert stranger.delete(f"/auth/sessions/{laptop_id}").status_code == 404
    assert laptop.get("/auth/me").status_code == 200

    # Log out everywhere else: the tablet goes, the laptop stays.
    ended = laptop.post("/auth/logout-others")
    assert ended.status_code == 200 and ended.json() == {"ended": 1}
    assert tablet.get("/auth/me").status_code == 401
    assert laptop.get("/auth/me").status_code == 200
    assert len(laptop.get("/auth/sessions").json()) == 1


def test_a_password_change_ends_the_other_sessions_and_keeps_tokens(
    base_url: str, admin: httpx.Client
) -> None:
    name = new_user(admin)
    here, elsewhere = login(base_url, name, PASSWORD), login(base_url, name, PASSWORD)
    token = here.post("/auth/tokens", json={"name": "ci", "scope": "read"}).json()["token"]
    new = "a brand new passphrase"
    wrong = here.post("/auth/password", json={"current_password": "nope-nope", "new_password": new})
    assert wrong.status_code == 403
    short = here.post("/auth/password", json={"current_password": PASSWORD, "new_password": "x"})
    assert short.status_code == 422
    extra = {"current_password": PASSWORD, "new_password": new, "username": "admin"}
    assert here.post("/auth/password", json=extra).status_code == 422  # undeclared field
    changed = here.post("/auth/password", json={"current_password": PASSWORD, "new_password": new})
    assert changed.status_code == 200 and changed.json() == {"ended": 1}
    assert elsewhere.get("/auth/me").status_code == 401
    assert here.get("/auth/me").status_code == 200
    # The new password logs in, the old one does not; the API token still reads.
    assert login(base_url, name, new).get("/auth/me").status_code == 200
    old = httpx.post(f"{base_url}/auth/login", json={"username": name, "password": PASSWORD})
    assert old.status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base_url}/runs", headers=bearer).status_code == 200
    # A token can neither change a password nor list sessions.
    body = {"current_password": new, "new_password": "another passphrase"}
    assert httpx.post(f"{base_url}/auth/password", json=body, headers=bearer).status_code == 401
    assert httpx.get(f"{base_url}/auth/sessions", headers=bearer).status_code == 401


def test_the_admin_ends_any_users_sessions(
    base_url: str, admin: httpx.Client, user: httpx.Client
) -> None:
    name = new_user(admin)
    one, two = login(base_url, name, PASSWORD), login(base_url, name, PASSWORD)
    assert user.delete(f"/users/{name}/sessions").status_code == 403
    ended = admin.delete(f"/users/{name}/sessions")
    assert ended.status_code == 200 and ended.json() == {"ended": 2}
    assert one.get("/auth/me").status_code == 401
    assert two.get("/auth/me").status_code == 401
    assert admin.get("/auth/me").status_code == 200
    assert admin.delete(f"/users/{unique('ghost')}/sessions").status_code == 404
