"""A user's own sessions and password: list the sessions, end one, end all but this one,
change the password (which ends the others). Each needs a password login (the session
cookie): an API token can neither see nor end sessions, nor change a password."""

from typing import Annotated

from fastapi import APIRouter, Cookie, Request, status

from rest_service.api.deps import COOKIE_NAME, SessionCacheDep, SessionUser, SettingsDep
from rest_service.api.params import BODY, NOT_LOGGED_IN
from rest_service.domain import user_sessions
from rest_service.domain.schemas import ErrorOut, PasswordIn, SessionOut, SessionsEnded

router = APIRouter(prefix="/auth", tags=["auth"], responses=NOT_LOGGED_IN)
Presented = Annotated[str | None, Cookie(alias=COOKIE_NAME, include_in_schema=False)]


@router.get("/sessions", response_model=list[SessionOut])
async def list_sessions(user: SessionUser, cookie: Presented = None) -> list[SessionOut]:
    """The user's live sessions, the most recently used first (never their tokens)."""
    return [
        SessionOut(
            id=session.session_id,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            address=session.address,
            current=current,
        )
        for session, current in await user_sessions.list_sessions(user.id, cookie)
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such session of yours", "model": ErrorOut}},
)
async def end_session(session_id: str, user: SessionUser, sessions: SessionCacheDep) -> None:
    """End one of the user's sessions (this one too, if named): its cookie is refused
    from the next request on."""
    await user_sessions.end_session_by_id(user.id, session_id, sessions)


@router.post("/logout-others", response_model=SessionsEnded)
async def end_other_sessions(
    user: SessionUser, sessions: SessionCacheDep, cookie: Presented = None
) -> SessionsEnded:
    """Log out everywhere else: every session of the user but this one ends."""
    return SessionsEnded(ended=await user_sessions.end_other_sessions(user.id, cookie, sessions))


@router.post(
    "/password",
    response_model=SessionsEnded,
    responses={
        **BODY,
        403: {"description": "current_password is wrong", "model": ErrorOut},
        429: {"description": "Too many wrong passwords (Retry-After)", "model": ErrorOut},
    },
)
async def change_password(
    body: PasswordIn,
    request: Request,
    user: SessionUser,
    sessions: SessionCacheDep,
    settings: SettingsDep,
    cookie: Presented = None,
) -> SessionsEnded:
    """Change the user's password; every other session ends. API tokens stay valid:
    revoke them one by one (DELETE /auth/tokens/{id})."""
    address = request.client.host if request.client else "unknown"
    ended = await user_sessions.change_password(
        user, body.current_password, body.new_password, address, cookie, sessions, settings
    )
    return SessionsEnded(ended=ended)
