"""Root pytest hook: give the HTTP-only functional tests a real service when BASE_URL is unset.

In compose the functional tests run alone with BASE_URL set, and this file is not there.
"""

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _service_for_functional_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    wanted = any("functional_tests" in item.nodeid for item in request.session.items)
    if os.environ.get("BASE_URL") or not wanted:
        yield
        return
    from tests.live import running_service

    with running_service({"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin"}) as service:
        os.environ["BASE_URL"] = service.url
        try:
            yield
        finally:
            del os.environ["BASE_URL"]
