"""rollout.yaml in the core: staged activation by unit (A11), shadow candidates,
and every way a rollout file can be wrong, refused at file:line:col."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from policykit import at, only, where
from samples import POLICIES, deal

from decision_service.errors import PolicyError, PolicyProblem
from decision_service.policy_files import load_policy_dir, read_policy_dir
from decision_service.policyset import PolicySet
from decision_service.staging import BY_ACTIVATION, BY_DATE, HELD_BACK

pytestmark = pytest.mark.real_loads  # tests of loading itself: every load in full

PILOT = """\
activation:
  - {policy: authorization, version: "2", units: [DE, AR, CR]}
shadow:
  - {policy: authorization, candidate: {version: "2"}}
"""

# The sample deal above the office limit; each test names its office and date.
DEAL: dict[str, Any] = {k: v for k, v in deal(contract_value_usd=25_000_000).items()
                        if k not in ("office", "as_of")}


def _texts(rollout: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    texts = read_policy_dir(POLICIES)
    if rollout is not None:
        texts["rollout.yaml"] = rollout
    texts.update(extra or {})
    return texts


def _problems(rollout: str, extra: dict[str, str] | None = None) -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as info:
        PolicySet.from_texts(_texts(rollout, extra), ("compiled",))
    return info.value.problems


@pytest.fixture(scope="module")
def piloted() -> Iterator[PolicySet]:
    with PolicySet.from_texts(_texts(PILOT), ("compiled",)) as policies:
        yield policies


def _decide(policies: PolicySet, office: str, as_of: str) -> tuple[str, str]:
    decision = policies.decide("authorization", {**DEAL, "office": office, "as_of": as_of})
    return decision.policy_version, decision.version_reason


def test_a_pilot_office_gets_version_2_from_its_effective_date(piloted: PolicySet) -> None:
    assert _decide(piloted, "AR", "2027-03-01") == ("2", BY_ACTIVATION)


def test_an_office_outside_the_pilot_keeps_version_1_after_the_date(piloted: PolicySet) -> None:
    assert _decide(piloted, "FR", "2027-03-01") == ("1", HELD_BACK)


def test_before_the_effective_date_every_office_gets_version_1(piloted: PolicySet) -> None:
    assert _decide(piloted, "AR", "2026-12-31") == ("1", BY_DATE)
    assert _decide(piloted, "FR", "2026-12-31") == ("1", BY_DATE)


def test_a_region_in_the_activation_covers_its_offices() -> None:
    rollout = 'activation:\n  - {policy: authorization, version: "2", units: [WEU]}\n'
    with PolicySet.from_texts(_texts(rollout), ("compiled",)) as policies:
        assert _decide(policies, "FR", "2027-03-01") == ("2", BY_ACTIVATION)
        assert _decide(policies, "AR", "2027-03-01") == ("1", HELD_BACK)


def test_without_a_rollout_file_dates_alone_decide(shipped: PolicySet) -> None:
    assert _decide(shipped, "FR", "2027-03-01") == ("2", BY_DATE)
    assert shipped.staging.describe()["activation"] == []


def test_the_answer_names_the_version_and_why(piloted: PolicySet) -> None:
    body = piloted.decide("authorization", {**DEAL, "office": "FR", "as_of": "2027-03-01"}
                          ).as_dict()
    assert (body["policy_version"], body["version_reason"]) == ("1", HELD_BACK)


def test_the_shadow_is_the_candidate_version_whatever_the_date(piloted: PolicySet) -> None:
    prepared = piloted.prepare("authorization", {**DEAL, "office": "FR", "as_of": "2026-06-01"})
    decision = piloted.evaluate(prepared)
    plan = piloted.shadow_plan("authorization")
    assert plan is not None
    shadow = piloted.shadow(plan, prepared, decision)
    assert decision.outputs["required_level"] == "REGION"
    assert shadow["policy_version"] == "2"
    assert shadow["outputs"]["required_level"] == "OFFICE"
    assert shadow["differs"] == ["approver_unit", "required_level"]
    assert not shadow["agrees"]


def test_the_bundle_hash_covers_the_rollout_file(shipped: PolicySet,
                                                 piloted: PolicySet) -> None:
    assert piloted.bundle_hash != shipped.bundle_hash


def test_a_shadow_candidate_from_another_directory_is_read_with_the_bundle(
        tmp_path: Path) -> None:
    live, candidate = tmp_path / "live", tmp_path / "next"
    shutil.copytree(POLICIES, live)
    shutil.copytree(POLICIES, candidate)
    v2 = candidate / "authorization" / "authorization.v2.yaml"
    v2.write_text(v2.read_text().replace("office_value_limit: 30000000",
                                         "office_value_limit: 20000000"))
    (live / "rollout.yaml").write_text(
        "shadow:\n  - {policy: authorization, candidate: {policies: ../next}}\n")
    with load_policy_dir(live, ("compiled",)) as policies:
        prepared = policies.prepare("authorization",
                                    {**DEAL, "office": "FR", "as_of": "2027-03-01"})
        decision = policies.evaluate(prepared)
        plan = policies.shadow_plan("authorization")
        assert plan is not None
        shadow = policies.shadow(plan, prepared, decision)
    assert shadow["candidate"] == {"policies": "../next"}
    assert shadow["policy_version"] == "2"
    assert shadow["outputs"]["required_level"] == "REGION"
    assert decision.outputs["required_level"] == "OFFICE"


# -- bad rollout files -----------------------------------------------------------


def test_an_unknown_field_is_refused_at_its_key() -> None:
    text = 'activation:\n  - {policy: authorization, version: "2", units: [DE], when: x}\n'
    problem = only(_problems(text), "unknown_field")
    assert problem.position.file == "rollout.yaml"
    assert where(problem) == at(text, "when")


def test_an_unknown_policy_is_refused_at_its_activation() -> None:
    text = 'activation:\n  - {policy: pricing, version: "2", units: [DE]}\n'
    problem = only(_problems(text), "unknown_policy")
    assert where(problem) == at(text, "{policy")


def test_a_version_that_does_not_exist_is_refused_at_the_version() -> None:
    text = 'activation:\n  - {policy: authorization, version: "3", units: [DE]}\n'
    assert where(only(_problems(text), "unknown_version")) == at(text, '"3"')


def test_the_first_version_has_nothing_to_hold_back_to() -> None:
    text = 'activation:\n  - {policy: authorization, version: "1", units: [DE]}\n'
    assert where(only(_problems(text), "nothing_to_hold_back")) == at(text, '"1"')


def test_a_unit_outside_the_org_tree_is_refused_at_the_unit() -> None:
    text = 'activation:\n  - {policy: authorization, version: "2", units: [DE, XX]}\n'
    problem = only(_problems(text), "unknown_unit")
    assert where(problem) == at(text, "XX")
    assert "not in the org tree" in problem.message


def test_two_activations_of_the_same_version_overlap() -> None:
    text = ('activation:\n  - {policy: authorization, version: "2", units: [DE]}\n'
            '  - {policy: authorization, version: "2", units: [AR]}\n')
    problem = only(_problems(text), "overlapping_activation")
    assert where(problem) == at(text, "{policy", nth=2)


def test_an_office_listed_with_its_region_overlaps() -> None:
    text = 'activation:\n  - {policy: authorization, version: "2", units: [WEU, FR]}\n'
    assert where(only(_problems(text), "overlapping_units")) == at(text, "FR")


def test_a_shadow_of_an_unknown_version_is_refused() -> None:
    text = 'shadow:\n  - {policy: authorization, candidate: {version: "9"}}\n'
    assert where(only(_problems(text), "unknown_version")) == at(text, "{version")


def test_a_shadow_candidate_that_fails_validation_is_refused_with_its_own_positions() -> None:
    broken = read_policy_dir(POLICIES)
    broken["authorization/authorization.v2.yaml"] = broken[
        "authorization/authorization.v2.yaml"].replace("office_value_limit", "office_valu_limit")
    extra = {f"../next/{name}": text for name, text in broken.items()}
    text = 'shadow:\n  - {policy: authorization, candidate: {policies: ../next}}\n'
    found = _problems(text, extra)
    assert where(only(found, "candidate_invalid")) == at(text, "{policies")
    inner = only(found, "unknown_parameter")
    assert inner.position.file == "../next/authorization/authorization.v2.yaml"


def test_a_missing_candidate_directory_is_refused(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "live")
    text = 'shadow:\n  - {policy: authorization, candidate: {policies: ../nowhere}}\n'
    (tmp_path / "live" / "rollout.yaml").write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy_dir(tmp_path / "live", ("compiled",))
    assert where(only(info.value.problems, "candidate_not_found")) == at(text, "{policies")
