"""Where things are by default, shared by the CLI and the server."""

from __future__ import annotations

from pathlib import Path

import platformdirs


def default_policies_dir() -> Path:
    """The `policies` directory of the checkout this package runs from, if there is one."""
    checkout = Path(__file__).resolve().parents[1] / "policies"
    return checkout if checkout.is_dir() else Path("policies")


def default_db_url() -> str:
    """SQLite in the user's data directory (~/.local/share/decision-service on Linux)."""
    data_dir = Path(platformdirs.user_data_dir("decision-service"))
    return f"sqlite:///{data_dir / 'decisions.db'}"
