"""Whether two runs can be compared: the warnings a comparison carries when they used
another locustfile, users, host or pacing, when the pacing changed during a run, when their
request rates differ, when a load generator measured its own queueing, or when the machine
under test was saturated in either run or much busier in one of them."""

from loadkit.core.records import RunInfo

CPU_LIMIT = 90.0  # a load generator above this measured itself, not the service
RATE_TOLERANCE = 0.10  # achieved req/s may differ by this much before a warning
HOST_CPU_LIMIT = 90.0  # the machine under test above this (p95) was saturated
HOST_CPU_GAP = 20.0  # points between the runs' CPU (p50 or p95) before a warning


def comparability_warnings(current: RunInfo, baseline: RunInfo) -> list[str]:
    warnings = []
    if current.locustfile_hash != baseline.locustfile_hash:
        warnings.append("the runs used different locustfiles")
    if current.users != baseline.users:
        warnings.append(f"the runs had different users: {current.users} vs {baseline.users}")
    if current.pacing != baseline.pacing:
        warnings.append(f"the runs had different pacing: {current.pacing} s vs {baseline.pacing} s")
    if current.host != baseline.host:
        warnings.append(f"the runs tested different hosts: {current.host} vs {baseline.host}")
    if current.req_per_s and baseline.req_per_s:
        ratio = current.req_per_s / baseline.req_per_s - 1
        if abs(ratio) > RATE_TOLERANCE:
            warnings.append(
                f"the achieved request rate differs by {ratio:+.0%}: {current.req_per_s:.1f} vs "
                f"{baseline.req_per_s:.1f} req/s"
            )
    for run in (current, baseline):
        if run.pacing_changes:
            warnings.append(
                f"pacing changed {run.pacing_changes} time(s) during run {run.label!r}: its "
                "load was not steady"
            )
        if run.peak_cpu is not None and run.peak_cpu > CPU_LIMIT:
            warnings.append(
                f"a load generator of run {run.label!r} reached {run.peak_cpu:.0f} % CPU: its "
                "timings include its own queueing"
            )
    return warnings + host_cpu_warnings(current, baseline)


def host_cpu_warnings(current: RunInfo, baseline: RunInfo) -> list[str]:
    """The machine under test's CPU (from its cpu-monitor runs) in either run."""
    warnings = [
        f"the machine under test reached {run.host_cpu_p95:.0f} % CPU (p95) during run "
        f"{run.label!r}: its timings include the machine's saturation"
        for run in (current, baseline)
        if run.host_cpu_p95 is not None and run.host_cpu_p95 > HOST_CPU_LIMIT
    ]
    for name in ("p50", "p95"):
        now, before = getattr(current, f"host_cpu_{name}"), getattr(baseline, f"host_cpu_{name}")
        if now is not None and before is not None and abs(now - before) > HOST_CPU_GAP:
            warnings.append(
                f"the machine under test's CPU {name} differs by {now - before:+.0f} points: "
                f"{now:.0f} % vs {before:.0f} %"
            )
            break
    return warnings
