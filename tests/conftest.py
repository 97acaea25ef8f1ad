"""The suite's own tests start many catalog runs of scratch catalogs: each runs in one process, as the
tests expect, unless a test asks for workers (``-n``) or clears ``PORTABILITY_WORKERS`` to try the
default (one worker per CPU)."""

import os

os.environ["PORTABILITY_WORKERS"] = "1"
