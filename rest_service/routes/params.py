"""What the route modules share: path parameters, and the answers /docs lists."""

from typing import Annotated, Any

from fastapi import Path

from rest_service.limits import MAX_BODY_BYTES

# Named "id" in the path, so route templates read /runs/{id}/samples.
RunId = Annotated[str, Path(alias="id", description="The run's id")]

Answers = dict[int | str, dict[str, Any]]
NOT_FOUND: Answers = {404: {"description": "No such run, or not yours"}}
NOT_RUNNING: Answers = {409: {"description": "The run is not running"}}
TOO_LARGE: Answers = {413: {"description": f"Body over {MAX_BODY_BYTES // 2**20} MB"}}
