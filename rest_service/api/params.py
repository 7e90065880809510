"""What the route modules share: path parameters, and the answers /docs lists."""

from typing import Annotated, Any

from fastapi import Path

from rest_service.api.body_rules import MAX_BODY_BYTES
from rest_service.domain.schemas import ErrorOut

# Named "id" in the path, so route templates read /runs/{id}/samples.
RunId = Annotated[str, Path(alias="id", description="The run's id")]

Answers = dict[int | str, dict[str, Any]]


def error_answer(description: str) -> dict[str, Any]:
    """An error answer as /docs lists it."""
    return {"description": description, "model": ErrorOut}


NOT_FOUND: Answers = {404: error_answer("No such run, or not yours")}
NOT_RUNNING: Answers = {409: error_answer("The run is not running")}
NOT_LOGGED_IN: Answers = {401: error_answer("Not logged in (no valid session cookie or API token)")}
TOKEN_NOT_FOUND: Answers = {404: error_answer("No such token, or not yours")}
NOT_ADMIN: Answers = {403: error_answer("Not an admin")}
# Every route that takes a body: the body itself can be refused before it is read.
BODY: Answers = {
    400: error_answer("The body is not parseable JSON"),
    413: error_answer(f"Body over {MAX_BODY_BYTES // 2**20} MB"),
    415: error_answer("The body is not declared as application/json"),
}
