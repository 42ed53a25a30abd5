"""Root conftest: enables pytester for the harness's own tests, and keeps pytest from ever
collecting the shipped submissions (collecting them would import submission code into the
supervisor, the one thing it must never do)."""

pytest_plugins = ["pytester"]

collect_ignore = ["starter", "reference", "benchmarks"]
collect_ignore_glob = ["tasks/*/baseline*", "tasks/*/hidden", "tasks/*/tools", "tasks/*/data"]
