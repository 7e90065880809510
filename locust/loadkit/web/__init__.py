"""The master's web UI: loadkit's tabs and routes (``ui``), the web login (``login``) and
the guard in front of every route (``guard``), with their templates and script."""
