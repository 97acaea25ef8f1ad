"""Root conftest. The portability plugin itself is registered once, by the ``pytest11`` entry point
in pyproject.toml; nothing is registered here. Generated run output is never collected."""

collect_ignore = ["reports", "build"]
