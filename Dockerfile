# Every loadwatch image, one target each; build from the repository root:
#   docker build --target service .          the REST service
#   docker build --target loadkit .          Locust master or worker with loadkit
#   docker build --target cpu-monitor .      cpu-monitor
#   docker build --target functional-tests . the HTTP-only functional tests
# docker-compose.yml builds each with its target.
FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

# The workspace's manifests: each image's dependency layer is rebuilt only when they change.
FROM python:3.11.10-slim-bookworm AS workspace
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
COPY pyproject.toml uv.lock README.md ./
COPY embedded_mongo/pyproject.toml embedded_mongo/
COPY monitor/pyproject.toml monitor/README.md monitor/
COPY locust/pyproject.toml locust/
COPY functional_tests/pyproject.toml functional_tests/

FROM workspace AS service-build
RUN uv sync --locked --no-dev --no-install-workspace --package loadwatch
COPY embedded_mongo/embedded_mongo embedded_mongo/embedded_mongo
COPY rest_service rest_service
RUN uv sync --locked --no-dev --no-editable --package loadwatch

FROM workspace AS loadkit-build
RUN uv sync --locked --no-dev --no-install-workspace --package loadwatch-loadkit
COPY locust/loadkit locust/loadkit
RUN uv sync --locked --no-dev --no-editable --package loadwatch-loadkit

FROM workspace AS cpu-monitor-build
RUN uv sync --locked --no-dev --no-install-workspace --package cpu-monitor
COPY monitor/cpu_monitor monitor/cpu_monitor
RUN uv sync --locked --no-dev --no-editable --package cpu-monitor

FROM workspace AS functional-tests-build
RUN uv sync --locked --no-dev --package loadwatch-functional-tests

FROM python:3.11.10-slim-bookworm AS service
RUN useradd --create-home --uid 10001 loadwatch
COPY --from=service-build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH HOST=0.0.0.0 PORT=8000 PYTHONUNBUFFERED=1
USER 10001
WORKDIR /home/loadwatch
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["python", "-m", "rest_service", "serve"]

FROM python:3.11.10-slim-bookworm AS loadkit
# /app/results belongs to the runtime user, so a new named volume mounted there does too.
RUN useradd --create-home --uid 10001 loadwatch && mkdir -p /app/results \
    && chown 10001:10001 /app/results
COPY --from=loadkit-build /app/.venv /app/.venv
WORKDIR /app
# The scenario (the locustfile and its two modules) and its config: loadkit lives in the
# venv. No __init__.py here.
COPY locust/locustfile.py locust/scenario.py locust/user_pool.py locust/analyst_data.py locust/locust.conf locust/
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
EXPOSE 8089 9646 5557
ENTRYPOINT ["locust", "--config", "locust/locust.conf"]

# In a container cpu-monitor still reads the host's CPU: /proc/stat is not namespaced.
FROM python:3.11.10-slim-bookworm AS cpu-monitor
RUN useradd --create-home --uid 10001 loadwatch
COPY --from=cpu-monitor-build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
WORKDIR /home/loadwatch
ENTRYPOINT ["cpu-monitor"]

FROM python:3.11.10-slim-bookworm AS functional-tests
RUN useradd --create-home --uid 10001 loadwatch
COPY --from=functional-tests-build /app/.venv /app/.venv
WORKDIR /app
COPY functional_tests/*.py functional_tests/
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 BASE_URL=http://rest_service:8000
USER 10001
# pytest's exit code is the container's.
ENTRYPOINT ["pytest", "-q", "-p", "no:cacheprovider", "functional_tests"]
