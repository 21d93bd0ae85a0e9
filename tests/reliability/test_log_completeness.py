"""Attack 2: the log did not prove its completeness. Deleting the newest records or
re-chaining a suffix passed verify-log; a log whose directory vanished was silently
replaced by an empty one on restart. Signed checkpoints outside the database find both."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

import orjson
import psycopg
import pytest
from relkit import URL, client, deal, pg_base, pg_schema, store_url
from typer.testing import CliRunner

from decision_service.cli import app as cli
from decision_service.store import StoreError, open_store
from decision_service.store.checkpoints import checkpoint_config, latest_note
from decision_service.store.record import chain_hash


def _log_five(db: str) -> list[str]:
    with client(db) as app:  # shutting down signs the head
        return [app.post(URL, json=deal()).json()["decision_id"] for _ in range(5)]


def _sql(db: str, *statements: str) -> None:
    if db.startswith("sqlite"):
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    with psycopg.connect(pg_base(db), autocommit=True) as conn:
        conn.execute(f"SET search_path TO {pg_schema(db)}".encode())
        for statement in statements:
            conn.execute(statement.encode())


def test_the_first_start_makes_a_key_apart_from_the_log_and_signs_the_head(
        tmp_path: Path, private_user_dirs: Path) -> None:
    db = f"sqlite:///{tmp_path / 'data' / 'decisions.db'}"
    _log_five(db)
    config = checkpoint_config(db)
    assert config.key_file is not None and config.key_file.is_file()
    assert config.key_file.parent != tmp_path / "data"
    assert private_user_dirs in config.key_file.parents
    note = latest_note(config.file)
    assert note is not None and note.split("\n")[1] == "5"


def test_a_clean_log_verifies_against_its_checkpoint(tmp_path: Path, store_kind: str) -> None:
    with store_url(store_kind, tmp_path) as db:
        _log_five(db)
        result = CliRunner().invoke(cli, ["verify-log", "--db", db])
        assert result.exit_code == 0, result.output
        assert "checkpoint of record 5" in result.output


def test_deleting_the_newest_records_is_found(tmp_path: Path, store_kind: str) -> None:
    with store_url(store_kind, tmp_path) as db:
        _log_five(db)
        _sql(db, "DELETE FROM decisions WHERE seq >= 4")
        result = CliRunner().invoke(cli, ["verify-log", "--db", db])
        assert result.exit_code == 1, result.output
        assert "truncated at record 5" in result.output
        assert "records 4 to 5 are missing" in result.output


def test_rechaining_a_suffix_is_found(tmp_path: Path, store_kind: str) -> None:
    with store_url(store_kind, tmp_path) as db:
        _log_five(db)
        with open_store(db) as store:
            records = list(store.iter_records())
        prev, updates = records[1].record_hash, []
        for record in records[2:]:  # rewrite record 3's output, re-hash records 3 to 5
            output = {**record.output, "required_level": "BG"}
            rehashed = chain_hash(prev, dataclasses.replace(record, output=output,
                                                            prev_hash=prev))
            updates.append(f"UPDATE decisions SET output = '{orjson.dumps(output).decode()}', "
                           f"prev_hash = '{prev}', record_hash = '{rehashed}' "
                           f"WHERE decision_id = '{record.decision_id}'")
            prev = rehashed
        _sql(db, *updates)
        with open_store(db) as store:
            assert store.verify_chain() == []  # consistent with itself
            assert store.head()[1] == prev != records[-1].record_hash
        result = CliRunner().invoke(cli, ["verify-log", "--db", db])
        assert result.exit_code == 1, result.output
        assert "rechained at record 5" in result.output


@pytest.mark.slow  # restarts the app
def test_a_restart_that_finds_the_sqlite_log_gone_refuses_without_new_log(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'data' / 'decisions.db'}"
    _log_five(db)
    shutil.rmtree(tmp_path / "data")
    with pytest.raises(StoreError, match="--new-log"), client(db):
        pass
    with client(db, new_log=True) as app:
        assert app.post(URL, json=deal()).status_code == 200
    assert CliRunner().invoke(cli, ["verify-log", "--db", db]).exit_code == 0


def test_the_suite_keeps_the_default_log_and_key_out_of_the_users_home(
        private_user_dirs: Path) -> None:
    from decision_service.locations import default_db_url

    assert str(private_user_dirs) in default_db_url()
    assert checkpoint_config(default_db_url()).key_file is not None
    key_file = checkpoint_config(default_db_url()).key_file
    assert key_file is not None and private_user_dirs in key_file.parents
