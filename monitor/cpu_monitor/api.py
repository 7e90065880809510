"""The HTTP client of the loadwatch service: login, runs, samples."""

from typing import Any

import requests

TIMEOUT = (3.05, 10.0)  # connect, read


class ApiError(Exception):
    """The service answered, but not as hoped; ``retryable`` if trying again may help."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class Unreachable(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


def _detail(response: requests.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(str(item.get("msg", item)) for item in detail)
    return str(detail or response.reason or response.status_code)


class ApiClient:
    """A client of the service: with an API token (sent as ``Authorization: Bearer``), or
    a logged-in session that logs in again when it expires."""

    def __init__(
        self, base_url: str, username: str = "", password: str = "", token: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = {"username": username, "password": password}
        self._http = requests.Session()
        self.token = token
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, *, relogin: bool = True, **kwargs: Any) -> Any:
        try:
            response = self._http.request(
                method, f"{self.base_url}{path}", timeout=TIMEOUT, **kwargs
            )
        except requests.RequestException as error:
            raise Unreachable(f"cannot reach {self.base_url}: {error.__class__.__name__}") from None
        if response.status_code == 401 and relogin and not self.token and path != "/auth/login":
            self.login()
            return self._call(method, path, relogin=False, **kwargs)
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise ApiError(_detail(response), response.status_code, retryable)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def login(self) -> dict[str, Any]:
        """Log in; with a token, check it (GET /auth/me)."""
        if self.token:
            me: dict[str, Any] = self._call("GET", "/auth/me")
            return me
        result: dict[str, Any] = self._call("POST", "/auth/login", json=self._credentials)
        return result

    def create_run(
        self, name: str, host: str, threshold: float, tag: str | None = None
    ) -> dict[str, Any]:
        tags = ["cpu-monitor", *([tag] if tag else [])]
        body = {"name": name, "host": host, "threshold": threshold, "tags": tags}
        run: dict[str, Any] = self._call("POST", "/runs", json=body)
        return run

    def post_samples(self, run_id: str, samples: list[dict[str, Any]]) -> tuple[int, int]:
        result = self._call("POST", f"/runs/{run_id}/samples", json={"samples": samples})
        return int(result["accepted"]), int(result["duplicates"])

    def post_events(self, run_id: str, events: list[dict[str, Any]]) -> int:
        result = self._call("POST", f"/runs/{run_id}/events", json={"events": events})
        return int(result["accepted"])

    def end_run(self, run_id: str, status: str = "finished") -> None:
        self._call("PATCH", f"/runs/{run_id}", json={"status": status})

    def close(self) -> None:
        self._http.close()
