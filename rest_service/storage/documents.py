"""The domain's access to the documents: a model's collection, and conversions both ways."""

from collections.abc import Mapping
from typing import Any, TypeVar

from beanie import Document

D = TypeVar("D", bound=Document)


def collection(model: type[Document]) -> Any:
    """The motor collection of ``model``, for pymongo's query and update API."""
    return model.get_motor_collection()


def load(model: type[D], raw: Mapping[str, Any] | None) -> D | None:
    """The model of a found document (None for none found)."""
    return None if raw is None else model.model_validate(raw)


def stored(document: Document) -> dict[str, Any]:
    """What to insert for a model: its fields, with ``id`` as ``_id``."""
    fields: dict[str, Any] = document.model_dump(by_alias=True)
    return fields
