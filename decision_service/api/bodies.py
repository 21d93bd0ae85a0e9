"""Reading JSON request bodies: bounded, parsed with orjson, errors as problems.

FastAPI's own body parsing neither bounds the size nor tells malformed JSON
from a wrong shape in a way the contract wants, so decision endpoints read the
raw body here: over the limit is 413 (checked on Content-Length first, then
while streaming, so a chunked body can't slip past), bad JSON is 400.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from decision_service.api.problems import Problem


class JSONBody(JSONResponse):
    """JSON rendered by orjson (a subclass of JSONResponse so OpenAPI documents it as JSON)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", f"the request body is over {limit} bytes",
                   [{"field": "", "code": "too_large",
                     "message": f"at most {limit} bytes; split large batches"}])


def _check_media_type(request: Request) -> None:
    """A body declared as something other than JSON (a form, say) is 415; no
    Content-Type at all is read as JSON."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/")
                                       and media.endswith("+json")):
        return
    raise Problem(415, "unsupported-media-type",
                  f"the body must be JSON (Content-Type: application/json), not {media!r}",
                  [{"field": "", "code": "media_type",
                    "message": f"received Content-Type {media!r}"}])


async def read_json(request: Request, limit: int) -> Any:
    _check_media_type(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise Problem(400, "malformed-json", "the request body is empty; send a JSON object",
                      [{"field": "", "code": "malformed_json", "message": "empty body"}])
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "malformed-json", f"the request body is not valid JSON: {exc}",
                      [{"field": "", "code": "malformed_json", "message": str(exc)}]) from None
