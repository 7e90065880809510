from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response, status

from rest_service.api.deps import (
    COOKIE_NAME,
    CurrentUser,
    SessionCacheDep,
    SessionUser,
    SettingsDep,
)
from rest_service.api.params import BODY, NOT_LOGGED_IN, TOKEN_NOT_FOUND
from rest_service.domain import tokens
from rest_service.domain.schemas import ErrorOut, LoginIn, TokenCreated, TokenIn, TokenOut, UserOut
from rest_service.domain.schemas.users import MeOut
from rest_service.domain.sessions import authenticate, end_session, start_session
from rest_service.storage.models import ApiToken

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=UserOut,
    responses={
        **BODY,
        401: {"description": "Wrong credentials", "model": ErrorOut},
        429: {
            "description": "Too many failed logins from this address (Retry-After)",
            "model": ErrorOut,
        },
    },
)
async def login(
    body: LoginIn, request: Request, response: Response, settings: SettingsDep
) -> UserOut:
    # Behind a reverse proxy, uvicorn's --forwarded-allow-ips makes this the real client.
    address = request.client.host if request.client else "unknown"
    user = await authenticate(body.username, body.password, address, settings)
    token = await start_session(user.id, address, settings)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.session_ttl_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return UserOut(username=user.id, is_admin=user.is_admin)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    response: Response,
    settings: SettingsDep,
    sessions: SessionCacheDep,
    session: Annotated[str | None, Cookie(alias=COOKIE_NAME)] = None,
) -> None:
    if session:
        await end_session(session, sessions)
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
    )


@router.get("/me", response_model=MeOut, responses=NOT_LOGGED_IN)
async def me(request: Request, user: CurrentUser) -> MeOut:
    """Who the caller is, and how it is authenticated (``access``)."""
    return MeOut(username=user.id, is_admin=user.is_admin, access=request.state.scope)


def _token_out(record: ApiToken) -> TokenOut:
    return TokenOut(
        id=record.token_id,
        name=record.name,
        created_at=record.created_at,
        expires_at=record.expires_at,
        scope=record.scope,
    )


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    responses={
        **NOT_LOGGED_IN,
        **BODY,
        409: {"description": "The user holds too many tokens", "model": ErrorOut},
    },
)
async def create_token(body: TokenIn, user: SessionUser) -> TokenCreated:
    """A new API token for machine clients (cpu-monitor --token, Grafana's Infinity
    datasource). Needs a password login: a token cannot make tokens."""
    record, token = await tokens.create_token(user, body.name, body.expires_in_days, body.scope)
    return TokenCreated(**_token_out(record).model_dump(), token=token)


@router.get("/tokens", response_model=list[TokenOut], responses=NOT_LOGGED_IN)
async def list_tokens(user: CurrentUser) -> list[TokenOut]:
    """The user's tokens, oldest first (never the tokens themselves)."""
    return [_token_out(record) for record in await tokens.list_tokens(user)]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_LOGGED_IN, **TOKEN_NOT_FOUND},
)
async def revoke_token(token_id: str, user: SessionUser, sessions: SessionCacheDep) -> None:
    """Revoke one of the user's tokens: refused from the next request on."""
    await tokens.revoke_token(user, token_id, sessions)
