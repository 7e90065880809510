"""Service configuration, read from the environment (pydantic-settings)."""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_URL = "mongomock://"
# uvicorn's level names ("trace" is its own).
LevelName = Literal["critical", "error", "warning", "info", "debug", "trace"]
# Their numbers for the logging module; mypy holds the keys to the names above.
LOG_LEVELS: dict[LevelName, int] = {
    "critical": 50,
    "error": 40,
    "warning": 30,
    "info": 20,
    "debug": 10,
    "trace": 5,
}


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


LogLevel = Annotated[LevelName, BeforeValidator(_lower)]
# Every placeholder value of .env.example holds this: a stack started with one is refused.
PLACEHOLDER_MARK = "change-me"
SECRET_SETTINGS = ("admin_password", "grafana_api_token", "monitor_api_token", "metrics_token")
# The password rule of POST /users (schemas.UserIn), for the admin of a real database.
MIN_PASSWORD_CHARS, MAX_PASSWORD_BYTES = 8, 72


class Settings(BaseSettings):
    """Every knob of the service. Defaults run locally with nothing set."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # Unset or "mongomock://": the in-memory emulation (mongomock-motor); else a real MongoDB.
    mongodb_url: str = EMBEDDED_URL
    mongodb_db: str = "loadwatch"
    # How long a real MongoDB may take to answer before /readyz says 503.
    mongodb_timeout_ms: int = Field(default=3000, ge=100)

    session_ttl_seconds: int = Field(default=8 * 3600, ge=1)
    # How long a looked-up session is trusted without asking the database again.
    session_cache_seconds: float = Field(default=30.0, ge=0)
    cookie_secure: bool = False
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)

    admin_username: str | None = None
    admin_password: SecretStr | None = None
    # An API token the admin holds from start-up, named "grafana": what compose's Grafana
    # sends to read runs and samples (its Infinity datasource).
    grafana_api_token: Annotated[SecretStr, Field(min_length=32)] | None = None
    # A write token the admin holds from start-up, for compose's cpu-monitor.
    monitor_api_token: Annotated[SecretStr, Field(min_length=32)] | None = None
    # When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>` (prometheus.yml's
    # `authorization: {credentials_file: …}` sends it).
    metrics_token: Annotated[SecretStr, Field(min_length=32)] | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    web_concurrency: int = Field(default=1, ge=1)
    log_level: LogLevel = "info"
    # Addresses of reverse proxies whose X-Forwarded-For names the client (comma-separated;
    # "*" for any). Empty: none, and the client address is the connection's.
    trusted_proxies: str = ""
    # Connections and requests in progress per worker beyond which uvicorn answers 503.
    limit_concurrency: int = Field(default=1000, ge=1)
    # Seconds an idle keep-alive connection stays open, seconds a request's line and
    # headers may take to arrive, and seconds its body may take after them, before the
    # connection is closed.
    keep_alive_seconds: float = Field(default=5.0, gt=0, le=300)
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Where prometheus-client's multiprocess files go when WEB_CONCURRENCY > 1.
    prometheus_multiproc_dir: Path | None = None

    # Running runs a user may have at once: each is a series on /metrics and a place in
    # the silent-run sweep. The next one gets 409 naming the cap.
    max_open_runs_per_user: int = Field(default=100, ge=1, le=100_000)
    # A running run that no client has written to for this long (a cpu-monitor killed with
    # -9, a lost machine) is closed with status "abandoned".
    run_silence_timeout_seconds: float = Field(default=900.0, ge=1)

    # Test-only: delay every answer of this route template (all routes when empty) by this
    # many ms (fractions too), to prove that a load test's regression gate notices. Never in
    # production.
    inject_latency_ms: float = Field(default=0.0, ge=0, le=60_000, allow_inf_nan=False)
    inject_latency_route: str = ""

    @model_validator(mode="after")
    def _fail_closed(self) -> "Settings":
        """Refuse what .env.example ships and, on a real database, an admin password the
        API itself would refuse (the embedded database is a local sandbox)."""
        for name in SECRET_SETTINGS:
            value: SecretStr | None = getattr(self, name)
            if value is not None and PLACEHOLDER_MARK in value.get_secret_value():
                raise ValueError(
                    f"{name.upper()} is still the placeholder of .env.example: choose your own"
                )
        if self.admin_password is not None and not self.embedded:
            password = self.admin_password.get_secret_value()
            if len(password) < MIN_PASSWORD_CHARS or len(password.encode()) > MAX_PASSWORD_BYTES:
                raise ValueError(
                    "ADMIN_PASSWORD must be 8 characters to 72 bytes on a real database: "
                    "set ADMIN_PASSWORD to a longer one"
                )
        return self

    @property
    def log_level_number(self) -> int:
        return LOG_LEVELS[self.log_level]

    @property
    def embedded(self) -> bool:
        return self.mongodb_url.strip() in ("", EMBEDDED_URL)
