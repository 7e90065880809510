from fastapi import APIRouter, status

from rest_service.api.deps import AdminUser, SessionCacheDep, SettingsDep
from rest_service.api.params import BODY, NOT_ADMIN, NOT_LOGGED_IN
from rest_service.domain import user_sessions
from rest_service.domain.schemas import ErrorOut, SessionsEnded, UserIn, UserOut
from rest_service.domain.users import create_user

router = APIRouter(prefix="/users", tags=["users"], responses=NOT_LOGGED_IN)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={**NOT_ADMIN, **BODY, 409: {"description": "Username taken", "model": ErrorOut}},
)
async def add_user(body: UserIn, _admin: AdminUser, settings: SettingsDep) -> UserOut:
    user = await create_user(body.username, body.password, body.is_admin, settings.bcrypt_rounds)
    return UserOut(username=user.id, is_admin=user.is_admin)


@router.delete(
    "/{username}/sessions",
    response_model=SessionsEnded,
    responses={**NOT_ADMIN, 404: {"description": "No such user", "model": ErrorOut}},
)
async def end_user_sessions(
    username: str, _admin: AdminUser, sessions: SessionCacheDep
) -> SessionsEnded:
    """The admin ends every session of a user (their API tokens stay: revoke those with
    the user's own login, or delete the user)."""
    return SessionsEnded(ended=await user_sessions.end_sessions_of(username, sessions))
