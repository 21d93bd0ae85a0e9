"""Reading JSON request bodies: bounded, parsed with orjson, errors as problems.

FastAPI's own body parsing neither bounds the size nor tells malformed JSON
from a wrong shape in a way the contract wants, so decision endpoints read the
raw body here: over the limit is 413 (checked on Content-Length first, then
while streaming, so a chunked body can't slip past), bad JSON is 400.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive

from decision_service.api.browser_guard import header_map
from decision_service.api.problems import Problem


class JSONBody(JSONResponse):
    """JSON rendered by orjson (a subclass of JSONResponse so OpenAPI documents it as JSON)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", f"the request body is over {limit} bytes",
                   [{"field": "", "code": "too_large",
                     "message": f"at most {limit} bytes; split large batches"}])


def _check_media_type(headers: Mapping[bytes, bytes]) -> None:
    """A body declared as something other than JSON (a form, say) is 415; no
    Content-Type at all is read as JSON."""
    declared = headers.get(b"content-type")
    if declared is None:
        return
    media = declared.decode("latin-1").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/")
                                       and media.endswith("+json")):
        return
    raise Problem(415, "unsupported-media-type",
                  f"the body must be JSON (Content-Type: application/json), not {media!r}",
                  [{"field": "", "code": "media_type",
                    "message": f"received Content-Type {media!r}"}])


BODY_DEADLINE = 10.0  # seconds to receive a whole body: a stalled client frees its slot
WATCH_TICK = 0.5  # seconds between two looks for bodies past their deadline
MAX_FIELDS = 1000  # members of one object: far more than any policy has inputs


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole body from ASGI ``receive`` (as Starlette's ``Request.stream`` reads it:
    ``ClientDisconnect`` when the client goes), refused once it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            continue
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            # Most bodies arrive in one message: no list, no join.
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


def _check_fields(value: Any) -> None:
    """Validating 300,000 unknown fields would hold the event loop for seconds."""
    if isinstance(value, dict) and len(value) > MAX_FIELDS:
        raise Problem(422, "invalid-input", f"{len(value)} fields; at most {MAX_FIELDS}",
                      [{"field": "", "code": "too_many_fields",
                        "message": f"an object has at most {MAX_FIELDS} fields"}])


async def read_body(headers: Mapping[bytes, bytes], receive: Receive, limit: int,
                    deadline: float = BODY_DEADLINE) -> bytes:
    """The request body, declared JSON (or undeclared), at most ``limit`` bytes, within
    ``deadline`` seconds. ``headers``: by lower-case name (``browser_guard.header_map``)."""
    _check_media_type(headers)
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    watch = _BodyWatch.of(asyncio.get_running_loop())
    task = asyncio.current_task()
    assert task is not None
    watch.start(task, deadline)
    try:
        return await _read_body(receive, limit)
    except asyncio.CancelledError:
        if not watch.expired(task):
            raise
        raise Problem(408, "body-timeout", f"the request body did not arrive within "
                      f"{deadline:g} s", headers={"Connection": "close"}) from None
    finally:
        watch.stop(task)


class _BodyWatch:
    """The tasks of one event loop reading a body, and when each must be done.

    One timer per loop, ticking every ``WATCH_TICK`` seconds while a body is being
    read, cancels the tasks past their deadline (so a deadline is met within a
    tick). A request pays two dict operations instead of arming and cancelling a
    timer of its own (``asyncio.timeout``), which cost more than the rest of
    reading the body (bench/http.py's constant endpoint, profiled)."""

    _loops: ClassVar[dict[asyncio.AbstractEventLoop, _BodyWatch]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reading: dict[asyncio.Task[Any], float] = {}
        self.cancelled: set[asyncio.Task[Any]] = set()
        self.ticking = False

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _BodyWatch:
        watch = cls._loops.get(loop)
        if watch is None:
            for closed in [other for other in cls._loops if other.is_closed()]:
                del cls._loops[closed]
            watch = cls._loops[loop] = cls(loop)
        return watch

    def start(self, task: asyncio.Task[Any], deadline: float) -> None:
        self.reading[task] = self.loop.time() + deadline
        if not self.ticking:
            self.ticking = True
            self.loop.call_later(WATCH_TICK, self._tick)

    def stop(self, task: asyncio.Task[Any]) -> None:
        self.reading.pop(task, None)
        self.cancelled.discard(task)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether this watch cancelled ``task`` (then the cancellation is taken back)."""
        if task not in self.cancelled:
            return False
        self.cancelled.discard(task)
        task.uncancel()
        return True

    def _tick(self) -> None:
        now = self.loop.time()
        for task in [t for t, due in self.reading.items() if due <= now]:
            del self.reading[task]
            self.cancelled.add(task)
            task.cancel()
        if self.reading:
            self.loop.call_later(WATCH_TICK, self._tick)
        else:
            self.ticking = False


async def read_json(request: Request, limit: int, deadline: float = BODY_DEADLINE) -> Any:
    """The body of ``request`` parsed (see ``parse_json``)."""
    return parse_json(await read_body(header_map(request.scope), request.receive, limit,
                                      deadline))


def parse_json(body: bytes) -> Any:
    """JSON from a request body: 400 for an empty or malformed one, 422 for an object
    (or batch item) with more than ``MAX_FIELDS`` members."""
    if not body or body.isspace():
        raise Problem(400, "malformed-json", "the request body is empty; send a JSON object",
                      [{"field": "", "code": "malformed_json", "message": "empty body"}])
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "malformed-json", f"the request body is not valid JSON: {exc}",
                      [{"field": "", "code": "malformed_json", "message": str(exc)}]) from None
    _check_fields(value)
    if isinstance(value, dict) and isinstance(value.get("items"), list):
        for item in value["items"]:
            _check_fields(item)
    return value
