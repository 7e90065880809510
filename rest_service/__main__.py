"""Command line: `python -m rest_service serve`, `python -m rest_service create-user NAME`,
and `python -m rest_service check-placeholders VARIABLE...` (compose's preflight: the
values of .env.example that other programs of the stack would take as they are)."""

import argparse
import asyncio
import getpass
import logging
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

from pydantic import ValidationError
from pymongo.errors import PyMongoError

from rest_service.api.http_protocol import LoadwatchHTTPProtocol
from rest_service.domain.errors import Conflict
from rest_service.domain.schemas import UserIn
from rest_service.settings import Settings
from rest_service.storage.connection import init_db


def _prepare_multiprocess_metrics(settings: Settings) -> Path:
    """Point prometheus-client's multiprocess mode at an emptied directory.

    The variable must be set before a worker imports prometheus_client, so it is set
    here, in the parent, and inherited by the workers uvicorn spawns. Files left by an
    earlier run would be summed into this one's totals: they are removed.
    """
    directory = settings.prometheus_multiproc_dir or Path(
        tempfile.mkdtemp(prefix="loadwatch-metrics-")
    )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in [*directory.glob("*.db"), *directory.glob("*.counter")]:
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def _serve(settings: Settings) -> int:
    import uvicorn

    if settings.embedded and settings.web_concurrency > 1:
        print(
            "error: WEB_CONCURRENCY>1 needs a real MongoDB (MONGODB_URL): each worker "
            "would have its own in-memory database",
            file=sys.stderr,
        )
        return 2
    if settings.web_concurrency > 1:
        directory = _prepare_multiprocess_metrics(settings)
        print(f"{settings.web_concurrency} workers; metrics shared through {directory}")
    print(
        f"loadwatch service on http://{settings.host}:{settings.port} "
        f"(docs at /docs); stop with Ctrl-C",
        flush=True,
    )
    proxies = settings.trusted_proxies.strip()
    uvicorn.run(
        "rest_service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        http=partial(  # type: ignore[arg-type]
            LoadwatchHTTPProtocol,
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
        ),
        limit_concurrency=settings.limit_concurrency,
        timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]
        # X-Forwarded-For is believed from the trusted proxies only (none by default), so
        # that no client picks the address the login throttle counts it under.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        log_level=settings.log_level,
        # uvicorn formats each access line's fields before its logger drops them: above
        # "info" that is CPU spent on every request for nothing.
        access_log=settings.log_level_number <= logging.INFO,
    )
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise ValueError("the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


async def _create_user(settings: Settings, name: str, password: str, is_admin: bool) -> None:
    # Imported here: users pulls in auth and the metrics, which `serve` must not create in
    # the parent before it sets PROMETHEUS_MULTIPROC_DIR for its workers.
    from rest_service.domain.users import create_user

    database = await init_db(settings)
    try:
        await create_user(name, password, is_admin, settings.bcrypt_rounds)
    finally:
        database.client.close()


def _create_user_command(settings: Settings, name: str, is_admin: bool) -> int:
    if settings.embedded:
        print(
            "error: create-user needs MONGODB_URL: the embedded database lives inside the "
            "running service (use ADMIN_USERNAME/ADMIN_PASSWORD or POST /users instead)",
            file=sys.stderr,
        )
        return 2
    try:
        user = UserIn(username=name, password=_read_password(), is_admin=is_admin)
        asyncio.run(_create_user(settings, user.username, user.password, user.is_admin))
    except ValidationError as error:
        for problem in error.errors():
            print(f"error: {problem['loc'][0]}: {problem['msg']}", file=sys.stderr)
        return 2
    except (ValueError, Conflict, EOFError, KeyboardInterrupt) as error:
        print(f"error: {error or 'cancelled'}", file=sys.stderr)
        return 1
    except PyMongoError as error:
        print(
            f"error: cannot use MongoDB at MONGODB_URL: {error.__class__.__name__}", file=sys.stderr
        )
        return 1
    print(f"created {'admin' if is_admin else 'user'} {name!r}")
    return 0


def _check_placeholders(names: list[str]) -> int:
    """Refuse, with one line each, the named variables still holding .env.example's mark."""
    from rest_service.settings import PLACEHOLDER_MARK

    found = [name for name in names if PLACEHOLDER_MARK in os.environ.get(name, "")]
    for name in found:
        print(
            f"error: {name} is still the placeholder of .env.example: choose your own",
            file=sys.stderr,
        )
    return 2 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rest_service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP service (HOST, PORT, WEB_CONCURRENCY)")
    create = commands.add_parser(
        "create-user", help="create a user; the password comes from a prompt or stdin"
    )
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="give the user admin rights")
    check = commands.add_parser(
        "check-placeholders", help="exit 2 when a named variable holds a placeholder"
    )
    check.add_argument("variables", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "check-placeholders":
        return _check_placeholders(args.variables)
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            where = f"setting {problem['loc'][0]}: " if problem["loc"] else ""
            message = problem["msg"].removeprefix("Value error, ")
            print(f"error: {where}{message}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    return _create_user_command(settings, args.name, args.admin)


if __name__ == "__main__":
    sys.exit(main())
