"""loadkit: the Locust extensions of loadwatch, hooked in through Locust's events.

Import it from a locustfile and call ``install(environment)`` from nothing: importing
``loadkit.plugin`` registers every listener on ``locust.events``.
"""
