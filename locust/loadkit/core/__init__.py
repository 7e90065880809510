"""loadkit's lowest layer: the records every other layer speaks of (``records``), the
defaults (``defaults``) and the option checks (``options``). The standard library only."""
