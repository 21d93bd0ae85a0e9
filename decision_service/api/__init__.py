"""The HTTP API for the CRM: decisions, authority checks, policies and operations
(the contract is the OpenAPI document the app serves at /openapi.json).

    from decision_service.api import ServiceSettings, run
    run(ServiceSettings.from_options(port=8000))

``create_app(settings)`` gives the FastAPI app itself (tests, other servers).
"""

from decision_service.api.app import create_app
from decision_service.api.server import run
from decision_service.api.settings import ServiceSettings, SettingsError

__all__ = ["ServiceSettings", "SettingsError", "create_app", "run"]
