"""The results store: one interface (``base.ResultsStore``), the SQLite store that fills it
(``sqlite``), and the one step that reads a comparison's inputs through it (``gather``).
All of loadkit's SQL is in this package."""

from loadkit.store.base import ResultsStore
from loadkit.store.sqlite import NotAStore, SQLiteStore, check_store

__all__ = ["NotAStore", "ResultsStore", "SQLiteStore", "check_store"]
