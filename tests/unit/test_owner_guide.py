"""docs/owners/ stays true: every problem code of the code base is explained in
both guides, the sample deal decides, and each worked change of the guides,
taken from the Markdown itself, validates and passes its cases on a copy of
the shipped policies (and its cases fail without it, so they test the change)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from problem_codes import codes_in_source
from samples import POLICIES
from typer.testing import CliRunner, Result

from decision_service.cli import app
from decision_service.problem_texts import with_codes_table

DOCS = POLICIES.parent / "docs" / "owners"
GUIDES = {lang: DOCS / f"guide.{lang}.md" for lang in ("zh", "en")}
_CHANGE = re.compile(r"<!-- change: (\S+) file: (\S+) mode: (create|append) -->\n"
                     r"```yaml\n(.*?)```", re.S)
CHANGES = ("raise-figure", "unit-setting", "new-term")


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), terminal_width=200)


def _snippets(lang: str, change: str) -> list[tuple[str, str, str]]:
    text = GUIDES[lang].read_text(encoding="utf-8")
    return [(file, mode, body) for name, file, mode, body in _CHANGE.findall(text)
            if name == change]


def _apply(target: Path, snippets: list[tuple[str, str, str]], *, cases_only: bool) -> None:
    for file, mode, body in snippets:
        path = target / file
        if mode == "create" and not cases_only:
            assert not path.exists(), f"{file} would overwrite a shipped file"
            path.write_text(body, encoding="utf-8")
        elif mode == "append":
            path.write_text(path.read_text(encoding="utf-8") + body, encoding="utf-8")


@pytest.mark.parametrize("lang", sorted(GUIDES))
def test_every_problem_code_in_the_code_base_is_explained_in_the_guide(lang: str) -> None:
    text = GUIDES[lang].read_text(encoding="utf-8")
    explained = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.M))
    missing = codes_in_source() - explained
    assert not missing, f"codes missing from guide.{lang}.md: {sorted(missing)}"


@pytest.mark.parametrize("lang", sorted(GUIDES))
def test_the_guides_table_of_codes_is_the_catalogues(lang: str) -> None:
    text = GUIDES[lang].read_text(encoding="utf-8")
    assert with_codes_table(text, lang) == text, (
        "run: python -m decision_service.problem_texts docs/owners")


def test_the_sample_deal_of_the_guide_decides() -> None:
    result = cli("eval", "authorization", "--input", str(DOCS / "sample-deal.json"))
    assert result.exit_code == 0, result.output
    assert '"required_level": "REGION"' in result.stdout


# Each change in one guide in the fast lane; the other guide's copy (the same files,
# test_both_guides_carry_the_same_policy_changes; its own cases) in the full run.
@pytest.mark.parametrize("lang", [
    "en", pytest.param("zh", marks=pytest.mark.slow)])  # two CLI loads each
@pytest.mark.parametrize("change", CHANGES)
def test_a_worked_change_of_the_guide_validates_and_passes_its_cases(
        tmp_path: Path, lang: str, change: str) -> None:
    snippets = _snippets(lang, change)
    assert {mode for _, mode, _ in snippets} == {"create", "append"}, snippets
    target = tmp_path / "my-policies"
    shutil.copytree(POLICIES, target)
    _apply(target, snippets, cases_only=False)
    validated = cli("validate", str(target))
    assert validated.exit_code == 0, validated.output
    tested = cli("test", str(target))
    assert tested.exit_code == 0, tested.output


@pytest.mark.parametrize("change", CHANGES)
def test_the_cases_of_a_worked_change_fail_without_the_change(tmp_path: Path,
                                                               change: str) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    _apply(target, _snippets("en", change), cases_only=True)
    assert cli("test", str(target), "--engine", "compiled").exit_code != 0


def test_both_guides_carry_the_same_policy_changes() -> None:
    for change in CHANGES:
        zh = [(f, m, b) for f, m, b in _snippets("zh", change) if m == "create"]
        en = [(f, m, b) for f, m, b in _snippets("en", change) if m == "create"]
        assert zh == en


def test_the_readme_links_the_guides() -> None:
    readme = (POLICIES.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/owners/guide.zh.md" in readme and "docs/owners/guide.en.md" in readme
