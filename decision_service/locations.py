"""Where things are by default, shared by the CLI and the server."""

from __future__ import annotations

from pathlib import Path

import platformdirs


def default_policies_dir() -> Path:
    """The `policies` directory of the checkout this package runs from, if there is one."""
    checkout = Path(__file__).resolve().parents[1] / "policies"
    return checkout if checkout.is_dir() else Path("policies")


def discover_policies_dir(cwd: Path | None = None) -> Path:
    """`./policies` of the current directory when it exists, else the shipped set:
    a process owner working in their own checkout edits what the CLI reads."""
    local = (cwd or Path.cwd()) / "policies"
    return local if local.is_dir() else default_policies_dir()


def default_db_url() -> str:
    """SQLite in the user's data directory (~/.local/share/decision-service on Linux)."""
    data_dir = Path(platformdirs.user_data_dir("decision-service"))
    return f"sqlite:///{data_dir / 'decisions.db'}"
