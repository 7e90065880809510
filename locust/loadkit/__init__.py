"""loadkit: the Locust extensions of loadwatch, hooked in through Locust's events.

Importing ``loadkit.plugin`` from a locustfile is all it takes: that registers loadkit's
options and every listener on ``locust.events``.
"""
