"""Bodies of users, logins and API tokens."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
)

from rest_service.domain.schemas.common import Strict, whole
from rest_service.storage.models import TokenScope

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]


def _bcrypt_sized(password: str) -> str:
    if len(password.encode()) > 72:
        raise ValueError("password must be at most 72 bytes in UTF-8 (a bcrypt limit)")
    return password


class LoginIn(Strict):
    username: Annotated[str, Field(max_length=256)]
    password: Annotated[str, Field(max_length=1024)]


class UserOut(BaseModel):
    username: str
    is_admin: bool


class MeOut(UserOut):
    """The caller, and how this request is authenticated: a password login's session, or
    an API token's scope."""

    access: Literal["session", "read", "write"]


class TokenIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, description="what uses it")]
    scope: TokenScope = Field(
        default="read",
        description="read: GET only (Grafana); write: also the owner's runs, samples and "
        "events (cpu-monitor)",
    )
    expires_in_days: Annotated[
        Annotated[int, Field(strict=True, ge=1, le=3650)] | None,
        BeforeValidator(whole),
        Field(description="None (the default): until revoked"),
    ] = None


class TokenOut(BaseModel):
    id: str = Field(description="the token's public id, for DELETE /auth/tokens/{id}")
    name: str
    created_at: datetime
    expires_at: datetime | None
    scope: TokenScope


class TokenCreated(TokenOut):
    token: str = Field(
        description="send as `Authorization: Bearer <token>`; shown this once, never stored"
    )


NewPassword = Annotated[
    str,
    Field(
        min_length=8,
        max_length=72,
        description="8 characters to 72 bytes in UTF-8 (bcrypt reads no further)",
    ),
    AfterValidator(_bcrypt_sized),
]


class UserIn(Strict):
    username: Username
    password: NewPassword
    is_admin: Annotated[bool, Field(strict=True)] = False


class PasswordIn(Strict):
    current_password: Annotated[str, Field(max_length=1024)]
    new_password: NewPassword


class SessionOut(BaseModel):
    id: str = Field(description="the session's public id, for DELETE /auth/sessions/{id}")
    created_at: datetime | None
    last_used_at: datetime | None = Field(
        description="to the session cache's TTL (SESSION_CACHE_SECONDS)"
    )
    address: str | None = Field(description="the client address it logged in from")
    current: bool = Field(description="the session of this request's cookie")


class SessionsEnded(BaseModel):
    ended: int
