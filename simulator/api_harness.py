"""Placeholder: routes are being written."""
from __future__ import annotations

from simulator.server import Router


def register(r: Router) -> None:
    pass


def check_auth(req, headers, sim):
    return None
