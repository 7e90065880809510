"""`cpu-monitor --resend FILE`: deliver a spool file's samples and events, finish its run,
and remove the file; with --new-run, into a new run when the service lost the original."""

import argparse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from cpu_monitor.api import ApiClient, ApiError
from cpu_monitor.login import MonitorError, connect
from cpu_monitor.retry import with_retries
from cpu_monitor.sender import MAX_BATCH, fitting
from cpu_monitor.spool import Spool, SpoolError, read_spool

T = TypeVar("T")
NOT_FOUND, CONFLICT = 404, 409


def _retried(call: Callable[[], T], failure: str) -> T:
    try:
        return with_retries(call)
    except ApiError as error:
        raise MonitorError(f"{failure}: {error}") from None


def _batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Posts the size the sender makes while it catches up, which the service takes."""
    start = 0
    while start < len(items):
        count = fitting(items[start : start + MAX_BATCH])
        yield items[start : start + count]
        start += count


def _new_run_for(client: ApiClient, spool: Spool, args: argparse.Namespace) -> str:
    """A new run like the spool's, with a note saying where its samples come from."""
    name = f"{spool.name or spool.host or 'cpu-monitor'} (resent)"
    try:
        run = client.create_run(name, spool.host or args.host, spool.threshold or args.threshold)
    except ApiError as error:
        raise MonitorError(f"cannot create the new run: {error}") from None
    first = min((s["timestamp"] for s in spool.samples), default=datetime.now(UTC).isoformat())
    note = {
        "category": "note",
        "name": "note",
        "timestamp": first,
        "data": {
            "text": f"Resent from {args.resend.name}: these samples were recorded as run "
            f"{spool.run_id} at {spool.url}, which the service no longer had."
        },
    }
    _retried(partial(client.post_events, run["id"], [note]), "could not add the note")
    return str(run["id"])


def _deliver_samples(
    client: ApiClient, run_id: str, spool: Spool, args: argparse.Namespace, url: str
) -> tuple[int, int]:
    """Every sample of the spool; returns how many were delivered and how many of those
    the service had already."""
    delivered = duplicates = 0
    for batch in _batches(spool.samples):
        try:
            accepted, dup = with_retries(partial(client.post_samples, run_id, batch))
        except ApiError as error:
            failure = (
                f"could not deliver {args.resend} ({delivered} of {len(spool.samples)} "
                f"delivered): {error}"
            )
            if error.status == NOT_FOUND and not args.new_run:
                raise MonitorError(
                    f"{failure}: the service at {url} no longer has run {run_id} (restarted "
                    f"on its embedded database?). Deliver into a new run: cpu-monitor "
                    f"--resend {args.resend} --new-run"
                ) from None
            raise MonitorError(failure) from None
        delivered += accepted + dup
        duplicates += dup
    return delivered, duplicates


def resend(args: argparse.Namespace) -> int:
    try:
        spool = read_spool(args.resend)
    except SpoolError as error:
        raise MonitorError(str(error)) from None
    url = args.url or spool.url
    client = connect(url, args)
    run_id = _new_run_for(client, spool, args) if args.new_run else spool.run_id
    delivered, duplicates = _deliver_samples(client, run_id, spool, args, url)
    for batch in _batches(spool.events):
        _retried(
            partial(client.post_events, run_id, batch),
            f"delivered the samples of {args.resend}, but not its events",
        )
    try:
        client.end_run(run_id, spool.status)
    except ApiError as error:
        if error.status != CONFLICT:  # the run had already ended
            raise MonitorError(
                f"delivered the samples, but could not end the run: {error}"
            ) from None
    client.close()
    args.resend.unlink()
    into = f"the new run {run_id} (was {spool.run_id})" if args.new_run else f"run {run_id}"
    print(
        f"Delivered {delivered} samples and {len(spool.events)} events to {into} "
        f"({duplicates} samples were already stored); the run is {spool.status}. "
        f"Removed {args.resend}."
    )
    return 0
