"""Placeholder: routes are being written."""
from __future__ import annotations

from simulator.server import Router


def register(r: Router) -> None:
    pass
