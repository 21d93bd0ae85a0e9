"""schemathesis against /openapi.json: no 5xx, and every answer as documented
(status code, content type, headers, body schema), for valid and invalid requests.

Driven through schemathesis's Python API with hypothesis directly: its pytest
plugin (``schema.parametrize``) does not work with pytest 9 yet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from samples import POLICIES
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from decision_service.api import ServiceSettings, create_app

pytestmark = pytest.mark.slow  # hundreds of generated requests per operation

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Per operation and mode, a twentieth of the profile's count (tests/conftest.py): enough to
# find shape bugs, and the suite stays short.
EXAMPLES = max(10, settings().max_examples // 20)


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        check()
    except Unsatisfiable:
        # Negative mode has nothing to break in an operation without inputs (/healthz).
        if mode is not GenerationMode.NEGATIVE:
            raise


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_yields_a_5xx_or_an_undocumented_answer(tmp_path: Path,
                                                           mode: GenerationMode) -> None:
    app = create_app(ServiceSettings(policies_dir=POLICIES,
                                     db_url=f"sqlite:///{tmp_path / 'decisions.db'}"))
    with TestClient(app):  # runs the lifespan: startup, and closing the log at the end
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            if operation.path == "/v1/admin/reload":
                continue  # a second each; covered by test_api_reload
            _fuzz(operation, mode)
