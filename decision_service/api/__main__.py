"""``python -m decision_service.api``: the server without the CLI's other commands."""

from __future__ import annotations

import argparse

from decision_service.api.server import fail_to_start, run
from decision_service.api.settings import ServiceSettings, SettingsError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m decision_service.api",
                                     description="Serve the decision API.")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--policies", dest="policies_dir")
    parser.add_argument("--db", dest="db_url", help="sqlite:///file.db or postgresql://...")
    parser.add_argument("--engine", choices=["compiled", "durable"])
    parser.add_argument("--workers", type=int)
    parser.add_argument("--new-log", action="store_true", default=None,
                        help="start a new log although the checkpoints say records were lost")
    options = vars(parser.parse_args(argv))
    try:
        settings = ServiceSettings.from_options(**options)
    except SettingsError as exc:
        fail_to_start(str(exc))
    run(settings)


if __name__ == "__main__":
    main()
