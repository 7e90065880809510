"""Readings from psutil: the machine's CPU, and optionally its other figures and one
process tree's.

Every figure is measured since the previous reading (psutil's non-blocking mode for CPU,
counter differences over the elapsed time for disk and network), so a reading costs a few
reads of /proc and never sleeps. The names are the service's sample fields.
"""

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil

log = logging.getLogger(__name__)

# What --collect may name; "all" (the default) is every group, "none" only the total CPU.
GROUPS = ("cpu-split", "memory", "load", "disk", "network")


@dataclass(frozen=True)
class Reading:
    cpu_percent: float
    per_cpu: list[float] | None = None
    figures: dict[str, float] = field(default_factory=dict)  # sample field -> value


def _percent(value: float) -> float:
    return round(min(max(float(value), 0.0), 100.0), 2)


class Rates:
    """Per-second rates of growing counters, since the previous call."""

    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self._read = read
        self._last = read()
        self._at = time.monotonic()

    def __call__(self) -> dict[str, float]:
        now, counters = time.monotonic(), self._read()
        elapsed = max(now - self._at, 1e-9)
        # A counter that went down (a device gone, a wrap) counts as no traffic.
        rates = {
            name: round(max(value - self._last.get(name, value), 0) / elapsed, 1)
            for name, value in counters.items()
        }
        self._last, self._at = counters, now
        return rates


def _disk_counters() -> dict[str, int]:
    disk = psutil.disk_io_counters()
    if disk is None:
        return {}
    return {
        "disk_read_bytes_per_second": disk.read_bytes,
        "disk_write_bytes_per_second": disk.write_bytes,
    }


def _network_counters() -> dict[str, int]:
    """Every interface but loopback: the machine's traffic with other machines (a load
    test on this machine would otherwise count each byte twice, sent and received)."""
    received = sent = 0
    for name, nic in psutil.net_io_counters(pernic=True).items():
        if name == "lo" or name.startswith("lo:"):
            continue
        received += nic.bytes_recv
        sent += nic.bytes_sent
    return {
        "network_receive_bytes_per_second": received,
        "network_transmit_bytes_per_second": sent,
    }


def _cpu_split() -> tuple[float, dict[str, float]]:
    """The total CPU and its split, from one reading of the CPU times: busy is all but idle
    and iowait, as psutil.cpu_percent counts it."""
    times = psutil.cpu_times_percent(interval=None)
    figures = {
        "cpu_user_percent": _percent(times.user),
        "cpu_system_percent": _percent(times.system),
    }
    for name in ("iowait", "steal"):  # Linux only
        if hasattr(times, name):
            figures[f"cpu_{name}_percent"] = _percent(getattr(times, name))
    return 100.0 - times.idle - getattr(times, "iowait", 0.0), figures


def _memory() -> dict[str, float]:
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    return {
        "memory_used_percent": _percent(memory.percent),
        "memory_available_bytes": float(memory.available),
        "swap_used_percent": _percent(swap.percent),
    }


def _load() -> dict[str, float]:
    return {"load_1m": round(os.getloadavg()[0], 2)}


class ProcessGone(Exception):
    """The watched process (and all of its tree) has exited."""


class ProcessTree:
    """One or more processes and all their descendants: CPU (percent of one core, as top
    shows it, so a tree may pass 100) and resident memory, summed.

    Finding the descendants reads every process on the machine, so the tree is listed
    again every ``relist`` seconds only: a child started since counts from the next listing.
    """

    def __init__(
        self,
        roots: Iterable[psutil.Process],
        relist: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.roots = list(roots)
        self.relist = relist
        self.clock = clock
        self._known: dict[int, psutil.Process] = {}
        self._listed_at: float | None = None
        self.read()  # psutil measures CPU from the previous call: this sets the baseline

    def _members(self) -> list[psutil.Process]:
        members: list[psutil.Process] = []
        for root in self.roots:
            try:
                members += [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        return members

    def read(self) -> dict[str, float]:
        now = self.clock()
        if self._listed_at is None or now - self._listed_at >= self.relist or not self._known:
            members = self._members()
            self._listed_at = now
        else:
            members = list(self._known.values())
        known: dict[int, psutil.Process] = {}
        cpu = rss = 0.0
        for process in members:
            # Reuse the object psutil measured last time: a new one would read 0% CPU.
            process = self._known.get(process.pid, process)
            try:
                with process.oneshot():
                    if process.status() == psutil.STATUS_ZOMBIE:
                        continue  # exited, not yet reaped
                    cpu += process.cpu_percent(interval=None)
                    rss += process.memory_info().rss
            except psutil.Error:
                continue  # exited since the listing
            known[process.pid] = process
        self._known = known
        if not known:
            raise ProcessGone()
        return {"process_cpu_percent": round(cpu, 2), "process_rss_bytes": rss}


def find_process(pid: int | None, name: str | None) -> list[psutil.Process]:
    """The process of --pid, or every process called --process NAME (by its name or its
    program's file name) that is not a descendant of another one; [] when none is."""
    if pid is not None:
        try:
            return [psutil.Process(pid)]
        except psutil.Error:
            return []
    found: dict[int, psutil.Process] = {}
    me = os.getpid()
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline: list[str] = process.info["cmdline"] or []
        program = os.path.basename(cmdline[0]) if cmdline else ""
        if process.pid != me and name in (process.info["name"], program):
            found[process.pid] = process
    roots = []
    for process in found.values():
        try:
            ancestors = {parent.pid for parent in process.parents()}
        except psutil.Error:
            continue
        if not ancestors & found.keys():
            roots.append(process)
    return roots


class Sampler:
    """Each reading is the machine's use since the previous one."""

    def __init__(
        self,
        per_cpu: bool = False,
        groups: Iterable[str] = GROUPS,
        process: ProcessTree | None = None,
    ) -> None:
        self.per_cpu = per_cpu
        self.groups = tuple(groups)
        self.process = process
        self.process_gone = False
        readers: list[Callable[[], dict[str, Any]]] = []
        self.split = "cpu-split" in self.groups
        if self.split:
            psutil.cpu_times_percent(interval=None)
        if "memory" in self.groups:
            readers.append(_memory)
        if "load" in self.groups and hasattr(os, "getloadavg"):
            readers.append(_load)
        if "disk" in self.groups and _disk_counters():
            readers.append(Rates(_disk_counters))
        if "network" in self.groups:
            readers.append(Rates(_network_counters))
        self._readers = readers
        # psutil measures from the previous call: the first call only sets the baseline.
        if not self.split:
            psutil.cpu_percent(interval=None)
        if per_cpu:
            psutil.cpu_percent(interval=None, percpu=True)

    def read(self) -> Reading:
        figures: dict[str, float] = {}
        if self.split:
            total, figures = _cpu_split()
        else:
            total = float(psutil.cpu_percent(interval=None))
        cores = (
            [round(float(v), 2) for v in psutil.cpu_percent(interval=None, percpu=True)]
            if self.per_cpu
            else None
        )
        for reader in self._readers:
            figures.update(reader())
        if self.process is not None and not self.process_gone:
            try:
                figures.update(self.process.read())
            except ProcessGone:
                self.process_gone = True
                log.warning("the watched process has exited: recording the machine only")
        return Reading(cpu_percent=_percent(total), per_cpu=cores, figures=figures)
