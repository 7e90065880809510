"""A duet in Locust: the users split between the baseline (``--host``) and the candidate
(``--candidate-host``), evenly and interleaved in spawn order, so that both sides run the
same user classes from the same moments on one machine.

Every user class is wrapped once at init. Each new user of a class takes the next side in
turn (offset by the worker's index, so that odd counts even out across workers), and keeps
it: its client is made for its side's host, so its session, its data and its credentials
belong to that host. A candidate-side user's requests carry SUFFIX in their names, so that
Locust's own statistics, its report and the exporter keep the sides apart; the recorder
takes the suffix off and stores the side with each timing. Any locustfile works unchanged,
local or distributed: workers learn the candidate host with the master's options.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loadkit.core.options import usage_error
from loadkit.core.records import BASELINE, CANDIDATE
from loadkit.runtime.secret_options import normalized_host

if TYPE_CHECKING:
    from locust.env import Environment

SUFFIX = " (candidate)"
CONNECT_SECONDS = 3.0


def side_of(name: str) -> tuple[str, int]:
    """A request's name as recorded, and its side."""
    if name.endswith(SUFFIX):
        return name[: -len(SUFFIX)], CANDIDATE
    return name, BASELINE


class _CandidateEvent:
    """A candidate-side client's request event: its requests' names carry SUFFIX."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook

    def fire(self, **meta: Any) -> Any:
        meta["name"] = f"{meta.get('name')}{SUFFIX}"
        return self._hook.fire(**meta)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._hook, attribute)


def problem(host: str | None, candidate: str) -> str | None:
    """Why ``candidate`` cannot be a duet's candidate beside ``host`` (None: it can)."""
    parts = urlsplit(candidate.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--candidate-host must be an http(s) URL, not {candidate!r}"
    if not host:
        return "--candidate-host needs --host: the baseline the candidate runs beside"
    if normalized_host(candidate) == normalized_host(host):
        return f"--candidate-host is --host itself ({host}): a duet needs two hosts"
    if parts.scheme != urlsplit(host.strip()).scheme:
        return f"--candidate-host {candidate} and --host {host} differ in scheme"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), CONNECT_SECONDS).close()
    except OSError as error:
        return f"--candidate-host {candidate} does not answer: {error.strerror or error}"
    return None


def target_hosts(environment: Environment) -> list[str]:
    """The hosts a test loads: ``--host``, and a duet's candidate host. A locustfile that
    prepares data or accounts before a test prepares them on each."""
    options = environment.parsed_options
    candidate = str(getattr(options, "candidate_host", "") or "")
    return [host.rstrip("/") for host in (environment.host or "", candidate) if host]


def split_users(environment: Environment, candidate: Callable[[], str]) -> Callable[[], None]:
    """Wrap the Environment's user classes; ``candidate()`` is the candidate host of the
    test ('' when it is no duet). Returns what starts a new test's turns afresh."""
    runner = environment.runner
    turns: dict[type, itertools.count[int]] = {}

    def wrap(cls: type) -> None:
        original = cls.__init__  # type: ignore[misc]

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            host = candidate()
            if not host or "_loadkit_side" in self.__dict__:  # no duet, or wrapped above
                original(self, *args, **kwargs)
                return
            if cls not in turns:  # a worker's index is known once the master answered
                turns[cls] = itertools.count(int(getattr(runner, "worker_index", 0) or 0))
            turn = next(turns[cls])
            self._loadkit_side = CANDIDATE if turn % 2 else BASELINE
            if self._loadkit_side == CANDIDATE:
                self.host = host
            original(self, *args, **kwargs)
            client: Any = getattr(self, "client", None)
            if self._loadkit_side == CANDIDATE and hasattr(client, "request_event"):
                client.request_event = _CandidateEvent(client.request_event)

        cls.__init__ = __init__  # type: ignore[misc]

    for cls in environment.user_classes:
        wrap(cls)
    return turns.clear


def on_init(environment: Environment, **_kwargs: Any) -> None:
    """Refuse a candidate host that cannot be one (where the test is started: one line,
    exit 2), and split the users of every process that runs them."""
    from locust.runners import MasterRunner, WorkerRunner

    options = environment.parsed_options
    if options is None:
        return
    runner = environment.runner
    given = getattr(options, "candidate_host", "") or ""
    if given and not isinstance(runner, WorkerRunner):
        found = problem(environment.host, given)
        if found is not None:
            usage_error(found)
    if isinstance(runner, MasterRunner):
        return
    restart = split_users(environment, lambda: getattr(options, "candidate_host", "") or "")
    environment.events.test_start.add_listener(lambda **_: restart())
