"""loadwatch's own scenario hooked into Locust: its options and its listeners. The locustfile
imports this module after loadkit, so that loadkit's listeners (the pacing, the run) come
first; then the master makes the user pool (user_pool.py) and the analysts' data
(analyst_data.py) before any user spawns. A stranger's locustfile needs none of this."""

from typing import Any

import analyst_data
import loadkit
import user_pool
from locust.argument_parser import LocustArgumentParser

from locust import events


@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser, **_kwargs: Any) -> None:
    add = parser.add_argument
    add(
        "--user-pool",
        type=int,
        default=20,
        # Start-up only: each pool user is an account the master makes as the admin.
        include_in_web_ui=False,
        help="load-test users the master makes sure exist in the service (0: none)",
    )
    add(
        "--analyst-samples",
        type=int,
        default=analyst_data.ANALYST_SAMPLES,
        include_in_web_ui=False,
        help="samples in the finished run each pool user gets to read (0: none)",
    )
    add(
        "--loadtest-password",
        default="loadtest-password",
        include_in_web_ui=False,
        env_var="LOADWATCH_LOADTEST_PASSWORD",
        help="the pool users' password",
    )
    add(
        "--admin-username",
        default="admin",
        include_in_web_ui=False,
        env_var="LOADWATCH_ADMIN_USERNAME",
        help="an admin of the service, to create the pool",
    )
    add(
        "--admin-password",
        default="",
        include_in_web_ui=False,
        env_var="LOADWATCH_ADMIN_PASSWORD",
        help=f"that admin's password (required; better set {user_pool.ADMIN_PASSWORD_VARIABLE})",
    )


# Both stay on the master, and go to the service at the --host of the start only.
loadkit.declare_secret("admin_password", "loadtest_password", for_host=True)
events.init.add_listener(user_pool.on_init)
# In this order: the pool exists before its users get their data.
events.test_start.add_listener(user_pool.on_test_start)
events.test_start.add_listener(analyst_data.on_test_start)
credentials = user_pool.credentials
