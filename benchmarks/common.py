"""What the benchmarks share."""
from __future__ import annotations

import contextlib

from core.settings import environ as settings_environ


@contextlib.contextmanager
def environ(env: dict[str, str | None]):
    """Set (or, with None, unset) environment variables for the block, then restore them:
    the benchmarks run the project in-process, configured as a user would, by environment."""
    with settings_environ(**env):
        yield env
