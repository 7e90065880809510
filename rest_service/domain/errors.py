"""Domain errors raised by the data functions; app.py maps them to HTTP answers."""

from typing import Any


class ServiceError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail: Any = detail


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class InvalidInput(ServiceError):
    pass


class InvalidParameter(InvalidInput):
    """422 for one bad request parameter, shaped like FastAPI's own validation errors."""

    def __init__(self, where: str, name: str, message: str) -> None:
        super().__init__(message)
        self.detail = [{"type": "value_error", "loc": [where, name], "msg": message}]


class NotAuthenticated(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class UnsupportedMediaType(ServiceError):
    pass


class Throttled(ServiceError):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
