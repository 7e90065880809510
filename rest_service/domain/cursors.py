"""Opaque page cursors: a position (time, id) in a list ordered by time, then id."""

import base64
import binascii
import json
from datetime import datetime

from rest_service.domain.errors import InvalidParameter


def encode_cursor(at: datetime, key: object) -> str:
    raw = json.dumps([at.isoformat(), str(key)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, key = json.loads(raw)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None or not isinstance(key, str):
            raise ValueError("malformed cursor")
        return parsed, key
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid_cursor() from None


def invalid_cursor() -> InvalidParameter:
    return InvalidParameter("query", "cursor", "Invalid cursor")
