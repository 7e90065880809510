"""Root pytest hook: give the HTTP-only functional tests a real service when BASE_URL is unset.

On the embedded database by default; with FUNCTIONAL_TESTS_DATABASE=real, on a real
wire-protocol server (MONGODB_URL, or FerretDB built by `make mongo-server`), as `make test`
runs them a second time. In compose the functional tests run alone with BASE_URL set, and
this file is not there.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _service_for_functional_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    wanted = any("functional_tests" in item.nodeid for item in request.session.items)
    if os.environ.get("BASE_URL") or not wanted:
        yield
        return
    from tests.live import real_mongodb, running_service

    # A password the API's rule accepts: a real database refuses a weaker admin at start.
    env = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin-password"}
    with contextlib.ExitStack() as stack:
        if os.environ.get("FUNCTIONAL_TESTS_DATABASE") == "real":
            data = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            env["MONGODB_URL"] = stack.enter_context(real_mongodb(data))
            env["MONGODB_DB"] = f"loadwatch-functional-{os.getpid()}"
        service = stack.enter_context(running_service(env))
        given = {"BASE_URL": service.url, "ADMIN_PASSWORD": env["ADMIN_PASSWORD"]}
        saved = {name: os.environ.get(name) for name in given}
        os.environ.update(given)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value
