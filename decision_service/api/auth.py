"""Bearer API keys with scopes (decide, read, admin, backdate).

The presented key is hashed and compared with the hash of *every* configured
key using ``hmac.compare_digest``, without stopping at a match: the time taken
says nothing about which key, or which prefix of one, came close. Keys are
never logged; neither is the Authorization header.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from decision_service.api.problems import Problem
from decision_service.api.settings import SCOPES

SCHEME = "bearer"  # the name of the security scheme in the OpenAPI document
SECURITY_SCHEMES = {SCHEME: {"type": "http", "scheme": "bearer",
                             "description": "An API key from DECISION_SERVICE_API_KEYS"}}


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class KeyRing:
    """Checked by each endpoint's first line (``ctx.keyring.check(request, scope)``)
    rather than as a FastAPI dependency: resolving dependencies costs more per
    request than the decision itself."""

    def __init__(self, keys: Mapping[str, frozenset[str]]) -> None:
        self._keys = [(_digest(k), scopes) for k, scopes in keys.items()]

    @property
    def enabled(self) -> bool:
        """No keys: the service is on loopback only (see settings) and open there."""
        return bool(self._keys)

    def scopes_of(self, presented: str) -> frozenset[str] | None:
        digest = _digest(presented)
        found: frozenset[str] | None = None
        for candidate, scopes in self._keys:
            if hmac.compare_digest(digest, candidate):
                found = scopes  # keep going: equal work whichever key matches
        return found

    def check(self, request: Request, scope: str) -> frozenset[str]:
        """The scopes of the caller's key, which must include ``scope``; 401/403 if not.
        Without keys (loopback only) every scope is granted."""
        if not self._keys:
            return SCOPES
        return self.check_header(request.headers.get("authorization"), scope)

    def check_header(self, authorization: str | None, scope: str) -> frozenset[str]:
        """``check`` given the Authorization header's value (None: no header)."""
        if not self._keys:
            return SCOPES
        challenge = {"WWW-Authenticate": "Bearer"}
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Problem(401, "unauthorized",
                          "send an API key as `Authorization: Bearer <key>`", headers=challenge)
        scopes = self.scopes_of(key.strip())
        if scopes is None:
            raise Problem(401, "unauthorized", "unknown API key", headers=challenge)
        if scope not in scopes:
            raise Problem(403, "forbidden", f"this API key lacks the `{scope}` scope")
        return scopes


def secured(scope: str) -> dict[str, Any]:
    """OpenAPI for an endpoint that needs a key with ``scope``."""
    return {"security": [{SCHEME: []}], "x-required-scope": scope}
