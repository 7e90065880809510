"""The one way to open the results store a user named: an SQLite file (``--results-db``,
the embedded default), or the loadwatch service (``--results-url``, with the token from
LOADKIT_RESULTS_TOKEN or a token file). Every refusal is one line (``StoreRefused``)."""

from __future__ import annotations

from pathlib import Path

from loadkit.store.base import ResultsStore
from loadkit.store.service_api import ServiceApi, ServiceError, token_from
from loadkit.store.sqlite import NotAStore, SQLiteStore


class StoreRefused(ValueError):
    """The store named cannot be used; the message says why, in one line."""


def open_store(
    db: str | Path,
    url: str = "",
    token_file: str = "",
    folder: Path | None = None,
    wait: float | None = None,
    write: bool = False,
    must_exist: bool = False,
) -> ResultsStore:
    """The service at ``url`` when given (``folder``: where timings wait while it is down;
    ``write``: the token must be allowed to record), else the SQLite file ``db``
    (``must_exist``: a missing file is refused, as a reader has nothing to read)."""
    if url:
        from loadkit.store.service import ServiceStore
        from loadkit.store.service_writer import WAIT_SECONDS

        try:
            api = ServiceApi(url, token_from(token_file))
            return ServiceStore(api, folder, WAIT_SECONDS if wait is None else wait, write)
        except ServiceError as error:
            raise StoreRefused(str(error)) from None
    path = Path(db)
    if must_exist and not path.is_file():
        raise StoreRefused(f"no results store at {path}")
    try:
        return SQLiteStore(path)
    except NotAStore as error:
        raise StoreRefused(str(error)) from None
