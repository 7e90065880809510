"""Property-based fuzzing of every operation in /openapi.json, with every check schemathesis
has: no 5xx, every status and header documented, answers that match their schemas, invalid
input refused and valid input accepted."""

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from tests.conftest import ADMIN
from tests.live import Service

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "120"))
# The load tests' routes are loadkit's (it is their one client, and its own tests run them
# on both databases): fewer examples each, so that the suite keeps its time.
LOAD_TEST_EXAMPLES = max(EXAMPLES // 4, 1)
LOAD_TESTS = "^/load-tests"
# Rules JSON Schema cannot state, so schema-valid input that breaks them is rightly refused:
# the one check that expects every schema-valid request to succeed is left out for them.
UNSTATABLE = {
    "POST /runs/{id}/samples": "a timestamp at most 5 s in the future",
    "POST /runs/{id}/events": "a timestamp at most 5 s in the future",
    "GET /runs": "a cursor the service itself handed out",
    "GET /runs/{id}/events": "a cursor the service itself handed out",
    "POST /users": "a password of at most 72 bytes in UTF-8 (JSON Schema counts characters)",
    "POST /runs": "at most MAX_OPEN_RUNS_PER_USER running runs per user",
    "POST /auth/password": "the user's own current password",
    "POST /load-tests/runs/{id}/chunks": "data that decodes to count timings of the layout",
}
# An invalid body over the 5 MB limit is refused with 413 before it is read: a refusal too.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*REFUSALS, "5xx"]}}}
)


# The fuzzer's own logins, from 127.0.0.1, soon trip the per-address login throttle: the
# test logs in from another loopback address, which the throttle counts apart.
_SIDE_DOOR = httpx.HTTPTransport(local_address="127.0.0.2")


def _session_cookie(service: Service) -> str:
    with httpx.Client(transport=_SIDE_DOOR) as client:
        response = client.post(
            f"{service.url}/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}
        )
    assert response.status_code == 200
    return response.cookies["loadwatch_session"]


@pytest.fixture(scope="module")
def api_schema(live_service: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_service.url}/openapi.json", config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


# The one session the cases share, logged in again after any case that may have ended it
# (a logout, a session revoked, a password changed): a login per case would spend most of
# the fuzzing's time in bcrypt.
_SHARED: dict[str, str] = {}


def _may_end_sessions(case: schemathesis.Case) -> bool:
    return case.operation.path.startswith("/auth") and case.operation.method.upper() != "GET"


def _check(case: schemathesis.Case, live_service: Service) -> None:
    # The real cookie replaces a generated one; a case that leaves the cookie out on purpose
    # (to see a 401) keeps it out.
    cookies = dict(case.cookies or {})
    if "loadwatch_session" in cookies:
        if "cookie" not in _SHARED:
            _SHARED["cookie"] = _session_cookie(live_service)
        cookies["loadwatch_session"] = _SHARED["cookie"]
    case.cookies = cookies
    label = f"{case.operation.method.upper()} {case.operation.path}"
    excluded = [positive_data_acceptance] if label in UNSTATABLE else []
    try:
        case.call_and_validate(base_url=live_service.url, excluded_checks=excluded)
    finally:
        if _may_end_sessions(case):
            _SHARED.clear()


@schema.exclude(path_regex=LOAD_TESTS).parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_check(case: schemathesis.Case, live_service: Service) -> None:
    _check(case, live_service)


@schema.include(path_regex=LOAD_TESTS).parametrize()
@settings(max_examples=LOAD_TEST_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_check_of_the_load_tests(case: schemathesis.Case, live_service: Service) -> None:
    _check(case, live_service)
