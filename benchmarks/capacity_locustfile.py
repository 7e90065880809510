"""One user class hitting the trivial endpoint as fast as it can, with or without loadkit's
hooks (LOADKIT_HOOKS=1: its listeners, the exporter and the paced wait_time)."""

import os

from locust import FastHttpUser, constant, task

if os.environ.get("LOADKIT_HOOKS") == "1":
    import loadkit.plugin  # noqa: F401 - the hooks under test
    from loadkit.runtime.pacing import paced as wait

    HOOKS = True
else:
    wait = constant(0)
    HOOKS = False


class Hammer(FastHttpUser):
    wait_time = wait

    @task
    def hit(self) -> None:
        self.client.get("/")
