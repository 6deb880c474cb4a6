"""The one pure ASGI middleware in front of the app: request ids, header and body limits, API
keys, metrics, the access log and the compression of large JSON answers.

One layer instead of one per concern: every layer costs each request a coroutine call and
another look through its headers. The order of the checks is that of the layers it replaces:
the request id and telemetry wrap everything (refusals are counted and logged too), then CORS
when origins are configured (so a preflight passes without a key and refusals carry CORS
headers), then the header size (431), the declared body size (413) and the API key (401).
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import hmac
import os
import random
import re
import time

from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from api.observability import observe

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# Request ids need to be unique, not secret: 128 bits from a generator of the process's own
# (seeded from the OS, again in a forked child), as uuid4's hex would be but without its
# getrandom() system call on every request: the call releases the GIL, and under load the
# event loop then waits for the step threads to hand it back.
_IDS = random.Random()
os.register_at_fork(after_in_child=_IDS.seed)


class Frontline:
    """Everything every HTTP request goes through before its route, and after it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
        keys: list[str],
        cors_origins: list[str],
        compress_min_bytes: int = 0,
    ) -> None:
        self.app = app
        self.compress_min_bytes = compress_min_bytes
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        # The owner id of a key is a hash of it: the key itself is never stored with sessions.
        self.owners = {key.encode(): hashlib.sha256(key.encode()).hexdigest()[:24] for key in keys}
        self.admit: ASGIApp = self._admit
        if cors_origins:
            self.admit = CORSMiddleware(
                self._admit,
                allow_origins=cors_origins,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["ETag", "Location", "X-Request-ID"],
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = encodings = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                offered = value
            elif name == b"accept-encoding":
                encodings = value
        request_id = offered if _REQUEST_ID.match(offered) else b"%032x" % _IDS.getrandbits(128)
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        status = 500
        began = time.perf_counter()
        compressing = self.compress_min_bytes > 0 and scope["method"] != "HEAD"
        held: Message | None = None  # a large JSON answer's start, until its body is packed

        async def send_with_id(message: Message) -> None:
            nonlocal status, held
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
                if compressing and self._compressible(message["headers"]):
                    message["headers"].append((b"vary", b"Accept-Encoding"))
                    if accepts_gzip(encodings.decode("latin-1")):
                        held = message
                        return
            elif held is not None:
                start, held = held, None
                if not message.get("more_body", False):
                    message = await _packed(start, message)
                await send(start)
            await send(message)

        try:
            await self.admit(scope, receive, send_with_id)
        finally:
            observe(scope, status, time.perf_counter() - began)

    def _compressible(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """A JSON answer, not yet encoded, of at least ``compress_min_bytes``."""
        json = large = False
        for name, value in headers:
            if name == b"content-type":
                json = value.startswith((b"application/json", b"application/problem+json"))
            elif name == b"content-length":
                large = value.isdigit() and int(value) >= self.compress_min_bytes
            elif name == b"content-encoding":
                return False
        return json and large

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The limits and the API key, checked before the app reads anything."""
        size = 0
        length = key = authorization = None
        chunked = False
        for name, value in scope["headers"]:
            size += len(name) + len(value)
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"x-api-key":
                key = value
            elif name == b"authorization":
                authorization = value
        if size > self.max_header_bytes:
            detail = f"The request headers hold {size} bytes; the limit is {self.max_header_bytes}."
            await problem(431, detail, slug="headers-too-large")(scope, receive, send)
            return
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._too_large(scope, receive, send)
            return
        if chunked:
            # Only a chunked body has no size up front: read it here, within the limit, and
            # hand it over whole. Otherwise the HTTP server delivers exactly Content-Length
            # bytes (none without it), which was just checked.
            body = await self._read_within_limit(receive)
            if body is None:
                await self._too_large(scope, receive, send)
                return
            receive = _replay(body, receive)
        state = scope["state"]
        state["owner"] = ""
        if self.owners and scope["path"].startswith("/v1"):
            owner = self._owner(key, authorization)
            if owner is None:
                response = problem(
                    401,
                    "This service needs an API key: send Authorization: Bearer <key> or "
                    "X-API-Key: <key>.",
                    slug="unauthorized",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
            state["owner"] = owner
        await self.app(scope, receive, send)

    async def _read_within_limit(self, receive: Receive) -> Message | None:
        """The whole body as one message, or None once it passes the limit. A message other
        than a body part (a disconnect) is returned as it came."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                return None
            chunks.append(body)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The request body is larger than the limit of {self.max_body_bytes} bytes."
        await problem(413, detail, slug="body-too-large")(scope, receive, send)

    def _owner(self, key: bytes | None, authorization: bytes | None) -> str | None:
        """The owner id of the key offered (``X-API-Key``, else ``Authorization: Bearer``)."""
        offered = key
        if (
            offered is None
            and authorization is not None
            and authorization[:7].lower() == (b"bearer ")
        ):
            offered = authorization[7:].strip()
        if offered is None:
            return None
        found = None
        # Compare with every key in constant time, so timing does not tell which one is near.
        for candidate, owner in self.owners.items():
            if hmac.compare_digest(candidate, offered):
                found = owner
        return found


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header names gzip with a quality above 0."""
    for part in accept_encoding.split(","):
        coding, *parameters = (piece.strip().lower() for piece in part.split(";"))
        if coding != "gzip":
            continue
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


async def _packed(start: Message, body: Message) -> Message:
    """``body`` gzipped (level 1: most of the gain, a fifth of level 6's time) off the event
    loop, with ``start``'s length and encoding set to match; as it was if that is no smaller."""
    data = body.get("body", b"")
    loop = asyncio.get_running_loop()
    packed = await loop.run_in_executor(None, functools.partial(gzip.compress, data, 1, mtime=0))
    if len(packed) >= len(data):
        return body
    start["headers"] = [
        *((k, v) for k, v in start["headers"] if k != b"content-length"),
        (b"content-length", str(len(packed)).encode()),
        (b"content-encoding", b"gzip"),
    ]
    return {**body, "body": packed}


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive channel that yields ``first``, then defers to ``receive``."""
    pending = [first]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
