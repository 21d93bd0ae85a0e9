"""What every route needs, built once per app by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from decision_service.api.auth import KeyRing
from decision_service.api.logging import request_id_of
from decision_service.api.metrics import Metrics
from decision_service.api.registry import PolicyRegistry
from decision_service.api.service import DecisionService
from decision_service.api.settings import ServiceSettings
from decision_service.store import DecisionStore


@dataclass
class AppContext:
    settings: ServiceSettings
    registry: PolicyRegistry
    store: DecisionStore
    service: DecisionService
    metrics: Metrics
    keyring: KeyRing


def request_id(request: Request) -> str | None:
    return request_id_of(request.scope)
