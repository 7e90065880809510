"""An in-memory MongoDB for development and tests: mongomock-motor with faster hot paths.

``embedded_client()`` answers like ``AsyncIOMotorClient`` for what the loadwatch service
uses, and lives only as long as the process. It is not a server: one process, no
persistence, no capped collections, no server-side limits beyond the ones mongomock
checks. The service picks it in its one connecting module when ``MONGODB_URL`` is unset.
"""

from typing import Any

from mongomock_motor import AsyncMongoMockClient

from embedded_mongo.fast_paths import install_fast_paths, uninstall_fast_paths

__all__ = ["GC_THRESHOLDS", "embedded_client", "install_fast_paths", "uninstall_fast_paths"]

# The emulation keeps every document as Python objects, so under ingest CPython's youngest
# generation (collected every 700 new objects by default) fills often and each collection
# walks the stored survivors again. A larger first threshold spares that work; a process
# that holds its data in a real server has no such heap and keeps Python's defaults.
GC_THRESHOLDS = (20_000, 10, 10)


def embedded_client() -> Any:
    """A new, empty in-memory client (timezone-aware, as the service's real one is)."""
    install_fast_paths()
    return AsyncMongoMockClient(tz_aware=True)
