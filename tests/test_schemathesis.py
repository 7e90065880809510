"""Property-based fuzzing of every operation in /openapi.json: no answer may be a 5xx."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import ADMIN
from tests.live import Service


def _session_cookie(service: Service) -> str:
    response = httpx.post(
        f"{service.url}/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}
    )
    assert response.status_code == 200
    return response.cookies["session"]


@pytest.fixture(scope="module")
def api_schema(live_service: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_service.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, live_service: Service) -> None:
    # A fresh session per case: a generated logout must not log out the other cases.
    cookie = _session_cookie(live_service)
    case.call_and_validate(
        base_url=live_service.url, cookies={"session": cookie}, checks=[not_a_server_error]
    )
