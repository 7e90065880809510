"""A comparison and a history as people and machines read them: text, JSON, HTML with ECDF
and trend plots, and notices by mail or webhook. Imports ``core`` and ``stats`` only."""
