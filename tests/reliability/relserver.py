"""The real server for the reliability tests: the shared one (``serving``) on the
shipped policies, with their longer start-up allowance."""

from __future__ import annotations

from pathlib import Path

from relkit import POLICIES
from serving import Server
from serving import start_server as _start_server

__all__ = ["Server", "start_server"]


def start_server(workdir: Path, db_url: str, *args: str, file_size_limit: int | None = None,
                 timeout: float = 90) -> Server:
    """The server on the shipped policies; see ``serving.start_server``."""
    return _start_server(workdir, db_url, POLICIES, *args, timeout=timeout,
                         file_size_limit=file_size_limit)
