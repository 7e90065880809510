"""Logging in to the service: with an API token, or a username and password (asked for on
a terminal when neither the option nor the variable gives them)."""

import argparse
import getpass
import sys

from cpu_monitor.api import ApiClient, ApiError, Unreachable


class MonitorError(Exception):
    """A failure to report in one line, with exit code 1."""


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    username, password = args.username, args.password
    interactive = sys.stdin.isatty()
    if not username:
        if not interactive:
            raise MonitorError("no username: pass --username or set CPU_MONITOR_USERNAME")
        username = input("Username: ").strip()
    if not password:
        if not interactive:
            raise MonitorError("no password: set CPU_MONITOR_PASSWORD")
        password = getpass.getpass("Password: ")
    return username, password


def connect(url: str, args: argparse.Namespace) -> ApiClient:
    """A client logged in with the token, or with the username and password."""
    if args.token:
        client, who = ApiClient(url, token=args.token), "the API token"
    else:
        username, password = _credentials(args)
        client, who = ApiClient(url, username, password), repr(username)
    try:
        client.login()
    except Unreachable:
        raise MonitorError(f"cannot reach the service at {url}") from None
    except ApiError as error:
        if error.status == 401:
            raise MonitorError(f"login failed for {who}: {error}") from None
        raise MonitorError(f"login failed ({error.status}): {error}") from None
    return client
