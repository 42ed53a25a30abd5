"""``python -m pytest_rlgrade``: the ``rlgrade`` console script."""

from .cli import main

raise SystemExit(main())
