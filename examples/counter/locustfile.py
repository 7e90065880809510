import loadkit  # noqa: F401 - recorded runs, the verdict, the Baseline and Pacing tabs

from locust import HttpUser, between, task


class Visitor(HttpUser):
    wait_time = between(0.01, 0.02)

    @task
    def visit(self) -> None:
        self.client.get("/")
