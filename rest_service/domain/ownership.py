"""Who may see a run: its owner, and any admin. Runs, samples and events share this rule."""

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from rest_service.domain.errors import NotFound
from rest_service.storage.models import User

RUN_NOT_FOUND = "Run not found"


def visible_runs(user: User) -> dict[str, Any]:
    """The filter for every run the user may see."""
    return {} if user.is_admin else {"owner": user.id}


def run_filter(run_id: str, user: User) -> dict[str, Any]:
    """The filter for one run, if the user may see it. Another user's run is not found,
    like a missing one, and so is an id that can't name a run."""
    try:
        object_id = ObjectId(run_id)
    except (InvalidId, TypeError):
        raise NotFound(RUN_NOT_FOUND) from None
    return {"_id": object_id, **visible_runs(user)}
