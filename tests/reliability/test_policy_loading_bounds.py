"""Attack 4: policy files that took the service down. A YAML alias bomb and deep
nesting are policy errors with a position, in bounded memory and time; a worker
whose directory cannot be loaded, for whatever reason, serves its last good set."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from relkit import KEYS, URL, bearer, client, deal

from decision_service.api import ServiceSettings, create_app
from decision_service.errors import PolicyError
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet

pytestmark = pytest.mark.real_loads  # tests of loading itself: every load in full

# Nine lists of nine references each to the one before: 9**9 strings once expanded.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True))
DEEP = "policy: " + "[" * 10_000 + "]" * 10_000 + "\n"


def test_the_alias_bomb_is_small() -> None:
    assert len(ALIAS_BOMB.encode()) < 700


@pytest.mark.parametrize(("text", "code", "line"), [(ALIAS_BOMB, "yaml_alias", 2),
                                                      (DEEP, "yaml_depth", 1)],
                         ids=["alias-bomb", "10000-levels"])
def test_a_hostile_policy_file_is_a_policy_error_with_its_position(
        text: str, code: str, line: int) -> None:
    with pytest.raises(PolicyError) as caught:
        PolicySet.from_texts({"hostile.yaml": text})
    found = [p for p in caught.value.problems if p.position.file == "hostile.yaml"]
    assert [(p.code, p.position.line) for p in found] == [(code, line)]
    assert all(len(p.message) < 300 for p in caught.value.problems)


def _limit_memory() -> None:
    limit = 1536 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.slow  # a CLI process per file
@pytest.mark.subprocess
@pytest.mark.parametrize("text", [ALIAS_BOMB, DEEP], ids=["alias-bomb", "10000-levels"])
def test_validate_reports_a_hostile_file_with_exit_2_in_bounded_memory(
        policies_copy: Path, text: str) -> None:
    (policies_copy / "hostile.yaml").write_text(text)
    done = subprocess.run([sys.executable, "-m", "decision_service.cli", "validate",
                           str(policies_copy)], capture_output=True, text=True, timeout=120,
                          preexec_fn=_limit_memory, env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 2, done.stderr
    assert "hostile.yaml:1" in done.stderr or "hostile.yaml:2" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.slow  # a hostile file through a reload
@pytest.mark.parametrize("text", [ALIAS_BOMB, DEEP], ids=["alias-bomb", "10000-levels"])
def test_reload_of_a_hostile_file_is_422_and_the_active_set_stays(
        tmp_path: Path, policies_copy: Path, text: str) -> None:
    with client(f"sqlite:///{tmp_path / 'decisions.db'}", policies_copy,
                api_keys=KEYS) as app:
        before = app.get("/readyz").json()["bundle_hash"]
        (policies_copy / "hostile.yaml").write_text(text)
        response = app.post("/v1/admin/reload", headers=bearer("admin"))
        assert response.status_code == 422, response.text
        assert any(e["file"] == "hostile.yaml" for e in response.json()["errors"])
        assert app.get("/readyz").json()["bundle_hash"] == before
        assert app.post(URL, json=deal(), headers=bearer("decide-only")).status_code == 200


def test_a_worker_serves_the_last_good_set_whatever_the_exception(
        tmp_path: Path, policies_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(read_policy_dir(policies_copy)))

    def broken(directory: object) -> dict[str, str]:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("decision_service.api.registry.read_policy_dir", broken)
    settings = ServiceSettings(policies_dir=policies_copy,
                               db_url=f"sqlite:///{tmp_path / 'decisions.db'}")
    with TestClient(create_app(settings, snapshot)) as app:
        assert app.get("/readyz").status_code == 200
        assert app.post(URL, json=deal()).status_code == 200
        reload = app.post("/v1/admin/reload")
        assert reload.status_code == 422, reload.text
