"""Every route of the master's web UI, reviewed: the methods it answers, who may call it,
and for Locust's ``POST /user`` the fields it takes. The master answers no other route:
one that a Locust upgrade, a plugin or a locustfile adds is refused with 403 until it is
listed here (``guard.on_init`` checks each request against ``REVIEWED``).

Who may call: ``OPEN`` routes answer anyone who reaches the master (the login page, the
page's assets); ``LOGIN`` routes need the web login when ``--web-login`` is on, whatever
their view does about it. Which fields ``POST /swarm`` takes is the guard's
(``guard.swarm_fields``); ``POST /user`` takes ``USER_FIELDS``.

``POST /user`` is Locust's edit of a user class: it sets every attribute it is sent on the
class, on the master and on every worker, so that ``proxy_host`` alone would send every
request of that class, logins included, through any proxy. Here it may set what Locust's
own form offers (weight, fixed count, tasks, and a host the test may hold credentials for),
each of its type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OPEN, LOGIN = "open", "login"
READ = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE = frozenset({"POST", "OPTIONS"})
BOTH = READ | WRITE


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    who: str
    why: str


# Rules as Flask writes them, without --web-base-path.
REVIEWED: dict[str, Route] = {
    # Locust's own (locust/web.py).
    "/": Route(READ, LOGIN, "the page"),
    "/assets/<path:path>": Route(READ, OPEN, "the page's scripts and styles"),
    "/static/<path:filename>": Route(READ, OPEN, "Flask's static folder"),
    "/login": Route(READ, OPEN, "the login page"),
    "/swarm": Route(WRITE, LOGIN, "start or edit a test: fields checked (guard.py)"),
    "/stop": Route(WRITE, LOGIN, "stop the test"),
    "/stats/reset": Route(WRITE, LOGIN, "reset the statistics: a new run"),
    "/user": Route(WRITE, LOGIN, "edit a user class: USER_FIELDS only"),
    "/stats/report": Route(READ, LOGIN, "the HTML report, with the verdict"),
    "/stats/requests": Route(READ, LOGIN, "the statistics the page polls"),
    "/stats/requests/csv": Route(READ, LOGIN, "statistics as CSV"),
    "/stats/requests_full_history/csv": Route(READ, LOGIN, "history as CSV"),
    "/stats/failures/csv": Route(READ, LOGIN, "failures as CSV"),
    "/exceptions": Route(READ, LOGIN, "the users' exceptions"),
    "/exceptions/csv": Route(READ, LOGIN, "exceptions as CSV"),
    "/tasks": Route(READ, LOGIN, "the user classes' tasks"),
    "/logs": Route(READ, LOGIN, "the master's and workers' log lines"),
    "/worker-count": Route(READ, LOGIN, "how many workers are connected"),
    # loadkit's (web/ui.py, web/login.py).
    "/pacing": Route(BOTH, LOGIN, "the pacing: read, or set (checked)"),
    "/loadwatch/baseline": Route(BOTH, LOGIN, "the next test's baseline: read, or set"),
    "/loadwatch/runs": Route(READ, LOGIN, "the recorded runs"),
    "/loadwatch/report/<int:run_id>": Route(READ, LOGIN, "a run's comparison"),
    "/loadwatch/comparison": Route(READ, LOGIN, "the last comparison as JSON"),
    "/loadwatch/panel/<name>": Route(READ, LOGIN, "the tabs' content"),
    "/loadwatch/static/<path:filename>": Route(READ, OPEN, "the tabs' script"),
    "/loadwatch/login": Route(WRITE, OPEN, "the login form's check (throttled)"),
    "/loadwatch/logout": Route(WRITE, LOGIN, "end the session"),
}

MAX_WEIGHT = 10_000
MAX_FIXED_COUNT = 100_000


def route_of(rule: str, base_path: str) -> Route | None:
    """The review of a Flask rule (None: not reviewed)."""
    if base_path and rule.startswith(base_path):
        rule = rule[len(base_path) :] or "/"
    return REVIEWED.get(rule)


def unreviewed(rules: Iterable[tuple[str, Iterable[str]]], base_path: str = "") -> list[str]:
    """Each ``METHOD rule`` of an app's url map that no review allows."""
    found = []
    for rule, methods in rules:
        route = route_of(rule, base_path)
        for method in sorted(methods):
            if route is None or method not in route.methods:
                found.append(f"{method} {rule}")
    return found


def _count(limit: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        whole = isinstance(value, int) and not isinstance(value, bool)
        return None if whole and 0 <= value <= limit else f"a whole number from 0 to {limit}"

    return check


def _tasks(value: Any) -> str | None:
    good = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return None if good else "a list of task names"


USER_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "weight": _count(MAX_WEIGHT),
    "fixed_count": _count(MAX_FIXED_COUNT),
    "tasks": _tasks,
}


def user_edit_problem(
    body: Any, classes: Iterable[str], host_allowed: Callable[[str], bool]
) -> str | None:
    """Why a ``POST /user`` body cannot be applied (None: it can)."""
    if not isinstance(body, Mapping):
        return "the body must be a JSON object"
    name = body.get("user_class_name")
    if name not in set(classes):
        return f"no user class {str(name)[:100]!r}"
    unknown = sorted(set(body) - set(USER_FIELDS) - {"user_class_name", "host"})
    if unknown:
        return f"field{'s' if len(unknown) > 1 else ''} not accepted: {', '.join(unknown)}"
    host = body.get("host")
    if host is not None and host != "" and not (isinstance(host, str) and host_allowed(host)):
        held = "this test holds credentials for the hosts it was started with only"
        return f"{held}, not {str(host)[:200]}"
    for field, check in USER_FIELDS.items():
        if field in body and (problem := check(body[field])) is not None:
            return f"{field} must be {problem}"
    return None
