"""loadwatch's scenario: its load-test users. The master makes sure a pool of them exists in
the service (as the service's admin), then hands each worker a slice of its own over a
Locust custom message, so that no two simulated users in the whole cluster share a login
while the pool is big enough. Only the master holds the admin's password.

In local (single-process) mode the same listener loads the whole pool into the process.
Its options and listeners are hooked in by scenario.py, which only locustfile.py imports.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
import requests
from gevent.pool import Pool
from loadkit import (
    Generated,
    SamplerExhausted,
    SequentialSampler,
    UniqueSequentialSampler,
    host_allowed,
    secret,
    target_hosts,
)

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

log = logging.getLogger(__name__)

MESSAGE = "loadwatch_credentials"


@dataclass(frozen=True)
class Credential:
    username: str
    password: str


def pool_source(size: int, password: str, prefix: str = "loadtest") -> Generated[Credential]:
    """The pool's users: loadtest-0001, loadtest-0002, … all with one password."""
    return Generated(lambda i: Credential(f"{prefix}-{i + 1:04d}", password), size)


class PoolError(RuntimeError):
    pass


def ensure_pool(host: str, admin: Credential, creds: list[Credential], parallel: int = 8) -> None:
    """Create the users of the pool that don't exist yet, through the admin API."""
    session = requests.Session()
    login = session.post(
        f"{host}/auth/login",
        json={"username": admin.username, "password": admin.password},
        timeout=30,
    )
    if login.status_code != 200:
        raise PoolError(
            f"cannot log in as admin {admin.username!r} at {host} "
            f"({login.status_code}): set --admin-username/--admin-password"
        )

    def create(cred: Credential) -> None:
        response = session.post(
            f"{host}/users",
            json={"username": cred.username, "password": cred.password},
            timeout=60,
        )
        if response.status_code not in (201, 409):  # 409: it exists already
            raise PoolError(
                f"cannot create {cred.username}: {response.status_code} {response.text}"
            )

    # bcrypt makes each creation slow on the server: a few at a time.
    Pool(parallel).map(create, creds)


class CredentialPool:
    """This process's credentials: unique while they last, then shared, with a warning."""

    def __init__(self) -> None:
        self._unique: UniqueSequentialSampler[Credential] | None = None
        self._shared: SequentialSampler[Credential] | None = None
        self.usernames: list[str] = []

    def load(self, creds: list[Credential]) -> None:
        self.usernames = [c.username for c in creds]
        self._unique = UniqueSequentialSampler(creds) if creds else None
        self._shared = SequentialSampler(creds) if creds else None

    def take(self, timeout: float = 60.0) -> Credential:
        deadline = time.monotonic() + timeout
        while self._unique is None:  # the master's message may still be on its way
            if time.monotonic() > deadline:
                raise PoolError("no credentials arrived from the master")
            gevent.sleep(0.1)
        try:
            return self._unique.next()
        except SamplerExhausted:
            assert self._shared is not None
            log.warning("more users than credentials here: logins are now shared")
            return self._shared.next()


def credentials(environment: Environment) -> CredentialPool:
    """This process's pool of credentials, kept on its Environment."""
    found: CredentialPool | None = getattr(environment, "loadwatch_credentials", None)
    if found is None:
        found = environment.loadwatch_credentials = CredentialPool()
    return found


def slices(creds: list[Credential], parts: int) -> list[list[Credential]]:
    """Disjoint, near-equal slices, one per worker."""
    return [creds[i::parts] for i in range(max(parts, 1))]


ADMIN_PASSWORD_VARIABLE = "LOADWATCH_ADMIN_PASSWORD"  # noqa: S105 - its name, not its value


def on_init(environment: Environment, **_kwargs: Any) -> None:
    from locust.runners import WorkerRunner

    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(
            MESSAGE, lambda msg, **_: _on_message(credentials(environment), msg)
        )
        return
    options = environment.parsed_options
    if options is not None and options.user_pool > 0 and not secret(environment, "admin_password"):
        sys.exit(
            f"loadwatch's scenario creates its users as the service's admin: set "
            f"{ADMIN_PASSWORD_VARIABLE} (or --admin-password), or --user-pool 0"
        )


def _on_message(pool: CredentialPool, msg: Any) -> None:
    creds = [Credential(**item) for item in msg.data["credentials"]]
    pool.load(creds)
    log.info(
        "loadwatch: received %d credentials: %s", len(creds), ",".join(c.username for c in creds)
    )


def on_test_start(environment: Environment, **_kwargs: Any) -> None:
    from locust.runners import LocalRunner, MasterRunner

    runner = environment.runner
    if not isinstance(runner, MasterRunner | LocalRunner):
        return
    options = environment.parsed_options
    if options is None:
        return
    if options.user_pool == 0:
        log.info("loadwatch: --user-pool 0: no load-test users are created or handed out")
        return
    hosts = target_hosts(environment)  # a duet's users log in on both sides
    refused = [host for host in hosts if not host_allowed(environment, host)]
    if refused:
        raise PoolError(f"the pool's credentials go to the start's hosts, not {refused[0]}")
    creds = list(pool_source(options.user_pool, secret(environment, "loadtest_password")))
    admin = Credential(options.admin_username, secret(environment, "admin_password"))
    started = time.monotonic()
    for host in hosts:
        ensure_pool(host, admin, creds)
    seconds = time.monotonic() - started
    log.info("loadwatch: %d load-test users ready in %.1f s", len(creds), seconds)
    if isinstance(runner, LocalRunner):
        credentials(environment).load(creds)
        return
    workers = [worker.id for worker in runner.clients.all]
    for worker_id, part in zip(workers, slices(creds, len(workers)), strict=False):
        runner.send_message(MESSAGE, {"credentials": [vars(c) for c in part]}, client_id=worker_id)
