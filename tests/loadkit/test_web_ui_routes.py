"""The master's web UI is deny-by-default: every route it serves is reviewed, a route
nobody reviewed is refused, Locust's ``POST /user`` cannot rewire a user class, and the
master answers only to the names it serves. A real master on 127.0.0.1 with loadwatch's
locustfile, wrapped to add one route of its own and to list the app's routes."""

import json
from pathlib import Path

import httpx
from loadkit.web import reviewed

from tests.live import LOCUSTFILE, Service, running_locust
from tests.loadkit.test_web_ui_security import ARGS, SECRETS, logged_in

REBOUND = "rebind.attacker.example"


def wrapped_locustfile(tmp_path: Path) -> tuple[Path, Path]:
    """loadwatch's locustfile, plus a listener (after loadkit's) that writes the app's
    routes before adding one of its own that nobody reviewed."""
    dump = tmp_path / "routes.json"
    wrapper = tmp_path / "routes_locustfile.py"
    wrapper.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(LOCUSTFILE.parent)!r})\n"
        "from locustfile import *  # noqa: F403\n"
        "from locust import events\n\n"
        "@events.init.add_listener\n"
        "def dump(environment, web_ui=None, **_):\n"
        "    app = web_ui.app\n"
        "    rules = [[r.rule, sorted(r.methods)] for r in app.url_map.iter_rules()]\n"
        f"    open({str(dump)!r}, 'w').write(json.dumps(rules))\n"
        "    app.add_url_rule('/unreviewed', 'unreviewed', lambda: 'changed', methods=['POST'])\n"
    )
    return wrapper, dump


def test_every_route_is_reviewed_and_others_are_refused(
    live_service: Service, tmp_path: Path
) -> None:
    wrapper, dump = wrapped_locustfile(tmp_path)
    args = [*ARGS, "--web-login"]
    with running_locust(
        live_service.url,
        tmp_path,
        args,
        workers=0,
        autostart=False,
        env=SECRETS,
        master_locustfile=wrapper,
    ) as cluster:
        rules = json.loads(dump.read_text())
        # Every route of the app, Locust's and loadkit's, is in the review: a route that a
        # Locust upgrade adds fails here until someone reviews it.
        assert reviewed.unreviewed(rules) == []
        assert {rule for rule, _ in rules} >= {"/swarm", "/stop", "/stats/reset", "/user"}
        client = logged_in(cluster.web_url)
        added = client.post("/unreviewed")
        assert added.status_code == 403
        assert "no reviewed route" in added.json()["message"]
        # A method a reviewed route does not take: Flask's 405 (no view runs).
        assert client.delete("/swarm").status_code == 405
        # Without the login, a login route answers with the login, before any check.
        anonymous = httpx.Client(base_url=cluster.web_url)
        assert anonymous.post("/user", json={"user_class_name": "x"}).status_code == 302
        assert anonymous.get("/login").status_code == 200


def test_user_edits_cannot_redirect_the_users(live_service: Service, tmp_path: Path) -> None:
    """Locust's POST /user sets any attribute of a user class, on every worker: a proxy
    would see the pool's logins. Only Locust's own form fields pass, each checked."""
    args = [*ARGS, "--web-login"]
    with running_locust(
        live_service.url, tmp_path, args, workers=1, autostart=False, env=SECRETS
    ) as cluster:
        client = logged_in(cluster.web_url)
        name = "MonitorUser"
        for body, words in [
            ({"user_class_name": name, "proxy_host": "127.0.0.1", "proxy_port": 9}, "proxy_host"),
            ({"user_class_name": name, "host": "http://attacker.example"}, "credentials"),
            ({"user_class_name": name, "weight": "3; x"}, "weight must be"),
            ({"user_class_name": name, "fixed_count": -1}, "fixed_count must be"),
            ({"user_class_name": name, "tasks": "all"}, "tasks must be"),
            ({"user_class_name": "NoSuchUser", "weight": 1}, "no user class"),
            ([1, 2], "JSON object"),
        ]:
            answer = client.post("/user", json=body)
            assert answer.status_code == 400, body
            assert words in answer.json()["message"], body
        # What Locust's own form sends is applied.
        good = {"user_class_name": name, "weight": 2, "fixed_count": 0, "host": live_service.url}
        assert client.post("/user", json=good).status_code == 201
        # A start-up-only option is no field of the start form: the pool's size.
        start = {"user_count": "1", "spawn_rate": "1", "host": live_service.url}
        answer = client.post("/swarm", data={**start, "user_pool": "4"})
        assert answer.status_code == 400 and "user_pool" in answer.json()["message"]


def test_the_master_answers_only_to_the_names_it_serves(
    live_service: Service, tmp_path: Path
) -> None:
    """A page on a name an attacker points at 127.0.0.1 sends that name as Host and as
    Origin: refused before any route, on a master without web login as `make stack` runs
    it. Its own names pass."""
    open_args = ["-u", "1", "-r", "1", "--user-pool", "0", "--analyst-samples", "0"]
    open_args += ["--admin-password=", "--loadtest-password="]  # no credentials held
    open_args += ["--web-host-names", "master.internal"]
    with running_locust(
        live_service.url, tmp_path, open_args, workers=0, autostart=False
    ) as cluster:
        port = cluster.web_url.rsplit(":", 1)[1]
        rebound = {"Host": f"{REBOUND}:{port}", "Origin": f"http://{REBOUND}:{port}"}
        for method, path in [
            ("POST", "/user"),
            ("POST", "/swarm"),
            ("POST", "/stop"),
            ("GET", "/loadwatch/runs"),
            ("GET", "/"),
        ]:
            answer = httpx.request(method, f"{cluster.web_url}{path}", headers=rebound)
            assert answer.status_code == 403, path
            assert "does not serve the name" in answer.json()["message"]
        for name in (
            f"localhost:{port}",
            f"master.internal:{port}",
            f"127.0.0.1:{port}",
            f"[::1]:{port}",
        ):
            answer = httpx.get(f"{cluster.web_url}/loadwatch/runs", headers={"Host": name})
            assert answer.status_code == 200, name
