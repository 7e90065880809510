"""Path parameters shared by the route modules."""

from typing import Annotated

from fastapi import Path

# Named "id" in the path, so route templates read /runs/{id}/samples.
RunId = Annotated[str, Path(alias="id", description="The run's id")]
