"""Test-only: delay the answers of one route, to prove that a regression gate notices.

Enabled only when INJECT_LATENCY_MS is set; never set it in production. The delay takes
fractions of a millisecond: the event loop's timers (uvloop's are whole milliseconds,
rounded down) sleep what they can, and the rest is spent on the loop itself, as the CPU
work of a slower handler would be. Handing the rest to a thread instead would add the
hand-off's own fraction of a millisecond to every delay, hiding the small ones a duet
resolves.
"""

import asyncio
import re
import time

from starlette.types import ASGIApp, Receive, Scope, Send


def template_pattern(template: str) -> re.Pattern[str]:
    """``/runs/{id}/samples`` as a regex over raw paths."""
    parts = re.split(r"\{[^}/]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


class InjectedLatency:
    def __init__(self, app: ASGIApp, seconds: float, route: str) -> None:
        self.app = app
        self.seconds = seconds
        self.pattern = template_pattern(route) if route else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.pattern is None or self.pattern.match(scope["path"])):
            await delay(self.seconds)
        await self.app(scope, receive, send)


async def delay(seconds: float) -> None:
    """Take at least ``seconds``, whatever the resolution of the loop's timers: sleep the
    whole milliseconds, then spend what is left on the loop."""
    deadline = time.perf_counter() + seconds
    await asyncio.sleep(seconds)
    while time.perf_counter() < deadline:
        pass
