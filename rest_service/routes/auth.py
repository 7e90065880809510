from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response, status

from rest_service import auth
from rest_service.auth import COOKIE_NAME, CurrentUser, SessionCacheDep, SettingsDep
from rest_service.routes.params import BODY, NOT_LOGGED_IN
from rest_service.schemas import ErrorOut, LoginIn, UserOut

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
    user = await auth.authenticate(body.username, body.password, address, settings)
    token = await auth.start_session(user.id, settings)
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
        await auth.end_session(session, sessions)
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
    )


@router.get("/me", response_model=UserOut, responses=NOT_LOGGED_IN)
async def me(user: CurrentUser) -> UserOut:
    return UserOut(username=user.id, is_admin=user.is_admin)
