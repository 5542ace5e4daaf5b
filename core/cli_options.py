"""Checks of command-line options shared by the commands that live beside their packages
(`sei webhooks` in webhooks/, `sei ingest` in ingestion/, ...) and those in sei/."""
from __future__ import annotations

import socket

import typer


def listen_host(host: str) -> str:
    """An address this machine can listen on, checked before anything is generated or started."""
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError) as e:
        raise typer.BadParameter(f"{host!r} is not an address of this machine ({getattr(e, 'strerror', None) or e}); "
                                 f"use 127.0.0.1, 0.0.0.0 or a host name that resolves") from None
    return host
