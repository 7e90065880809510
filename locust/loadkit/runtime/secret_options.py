"""Options that hold secrets, kept in the process that uses them.

Locust sends the master's parsed options to every worker in each spawn message, and the
workers merge them into theirs. A secret left there would travel, unencrypted, to every
worker. At init, loadkit takes the value of each declared secret out of the parsed options
into its own state (``Kit.secrets``), leaving an empty string behind, so that what Locust
sends holds none. The code that needs a secret asks for it here.

A secret declared ``for_host`` is a credential of the system under test: it may be sent to
the host fixed at start-up only. A test started from the web UI at another host is refused
while such a secret is set (see webguard.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadkit.core.options import usage_error
from loadkit.runtime import state

if TYPE_CHECKING:
    from locust.env import Environment

PLACEHOLDER_MARK = "change-me"  # in every placeholder of .env.example
# Option names (argparse's dest) that hold secrets, and whether each is a credential of the
# host under test. Declared at import, like the options themselves.
DECLARED: dict[str, bool] = {"web_password": False, "web_secret": False}


def declare(*names: str, for_host: bool = False) -> None:
    """Mark the options ``names`` (argparse dest names) as secrets."""
    for name in names:
        DECLARED[name] = for_host


def normalized_host(host: str | None) -> str:
    return (host or "").strip().rstrip("/").lower()


def on_init(environment: Environment, **_kwargs: object) -> None:
    """Take every declared secret out of the parsed options, before anything is sent."""
    kit = state.kit(environment)
    kit.target_host = normalized_host(environment.host)
    options = environment.parsed_options
    if options is None:
        return
    kit.candidate_host = normalized_host(getattr(options, "candidate_host", ""))
    for name in DECLARED:
        value = getattr(options, name, None)
        if value is None:
            continue
        if PLACEHOLDER_MARK in str(value):
            option = "--" + name.replace("_", "-")
            usage_error(f"{option} is still the placeholder of .env.example: choose your own")
        kit.secrets[name] = str(value)
        setattr(options, name, "")


def secret(environment: Environment, name: str) -> str:
    """The value of the declared secret ``name`` ('' when unset)."""
    return state.kit(environment).secrets.get(name, "")


def holds_host_credentials(environment: Environment) -> bool:
    """Whether a credential of the host under test is set in this process."""
    secrets = state.kit(environment).secrets
    return any(secrets.get(name) for name, for_host in DECLARED.items() if for_host)


def host_allowed(environment: Environment, host: str | None) -> bool:
    """Whether a test may run at ``host``: any host without host credentials, else only the
    ones fixed at start-up (the host, and a duet's candidate host)."""
    if not holds_host_credentials(environment):
        return True
    kit = state.kit(environment)
    return normalized_host(host) in {kit.target_host, kit.candidate_host} - {""}
